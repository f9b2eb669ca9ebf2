"""Synthetic H&E generator: determinism, label/image consistency, touching nuclei, negatives."""
import time

import numpy as np
from scipy import ndimage

from mmcyclic.datasets.converters.synthetic import convert_synthetic
from mmcyclic.datasets.synthetic import generate_synthetic_he


def _touching_pairs(lm):
    pairs = set()
    for a, b in ((lm[:, :-1], lm[:, 1:]), (lm[:-1, :], lm[1:, :])):
        touch = (a != b) & (a > 0) & (b > 0)
        pairs |= set(zip(a[touch].tolist(), b[touch].tolist()))
    return pairs


def test_deterministic_and_fast():
    start = time.perf_counter()
    first = generate_synthetic_he(16, 256, seed=0)
    elapsed = time.perf_counter() - start
    again = generate_synthetic_he(2, 256, seed=0)
    for (i1, l1), (i2, l2) in zip(first, again):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(l1, l2)
    other = generate_synthetic_he(1, 256, seed=1)[0]
    assert not np.array_equal(other[0], first[0][0])
    assert elapsed < 6.0, f'16 tiles took {elapsed:.2f} s (target < 2 s on an idle core)'


def test_labels_consistent_with_image():
    for image, lm in generate_synthetic_he(6, 256, seed=5):
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        ids = np.unique(lm)
        assert ids[0] == 0 and np.array_equal(ids[1:], np.arange(1, ids.size))  # ids 1..n
        assert 20 <= ids.size - 1 <= 400
        for k, box in enumerate(ndimage.find_objects(lm), start=1):
            assert ndimage.label(lm[box] == k)[1] == 1  # one connected piece per id
        rgb = image.astype(float)
        nuclei, rest = lm > 0, lm == 0
        assert rgb[nuclei].mean() < rgb[rest].mean() - 40          # darker
        blue = rgb[..., 2] / rgb.sum(axis=2)
        assert blue[nuclei].mean() > blue[rest].mean() + 0.02       # bluer (hematoxylin)


def test_touching_nuclei_and_nucleus_free_areas():
    tiles = generate_synthetic_he(8, 256, seed=0)
    assert all(_touching_pairs(lm) for _, lm in tiles)
    for _, lm in tiles:  # a 48x48 window without any nucleus pixel exists in every tile
        assert ndimage.binary_erosion(lm == 0, np.ones((48, 48), bool)).any()


def test_make_synthetic_layout(tmp_path):
    log = convert_synthetic(tmp_path, num_train=2, num_val=1, num_test=1, size=96, seed=0,
                            progress=False)
    assert log['summary']['images_written'] == 4 and log['summary']['patches'] == 4
    assert (tmp_path / 'patches/synth_0000_p0.png').is_file()
    assert (tmp_path / 'annotations/instances_val.json').is_file()
    tiles = generate_synthetic_he(4, 96, seed=0)
    from mmcyclic.datasets.io import read_label_map
    np.testing.assert_array_equal(read_label_map(tmp_path / 'labels/synth_0003.png'), tiles[3][1])
