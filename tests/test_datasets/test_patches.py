"""Patch grid: the paper's 4x4 grid on 1000x1000, odd sizes, small images, cropping."""
import numpy as np
import pytest

from mmcyclic.datasets.patches import axis_origins, crop_patch, patch_origins


def test_monuseg_grid_is_the_papers():
    origins = patch_origins(1000, 1000, 256)
    assert len(origins) == 16
    assert sorted({x for x, _ in origins}) == [0, 248, 496, 744]
    assert origins[:4] == [(0, 0), (248, 0), (496, 0), (744, 0)]  # row by row


@pytest.mark.parametrize('length', [257, 300, 511, 512, 513, 600, 999, 1000, 1001, 1024, 2000])
def test_grid_covers_evenly(length):
    origins = axis_origins(length, 256)
    assert origins[0] == 0 and origins[-1] == length - 256
    assert len(origins) == -(-length // 256)  # the fewest patches that cover
    steps = np.diff(origins)
    assert steps.max() <= 256 and steps.max() - steps.min() <= 1  # no gap, evenly spread


def test_odd_sizes_and_options():
    assert axis_origins(600, 256) == [0, 172, 344]
    assert axis_origins(512, 256) == [0, 256]
    assert axis_origins(1000, 256, num=5) == [0, 186, 372, 558, 744]
    assert axis_origins(512, 256, min_overlap=32) == [0, 128, 256]
    assert patch_origins(300, 1000, 256) == [(x, y) for y in (0, 44) for x in (0, 248, 496, 744)]
    with pytest.raises(ValueError, match='cannot cover'):
        axis_origins(1000, 256, num=3)
    with pytest.raises(ValueError):
        axis_origins(0, 256)


def test_small_images_give_one_unpadded_patch():
    assert patch_origins(100, 200, 256) == [(0, 0)]
    assert patch_origins(256, 256, 256) == [(0, 0)]
    image = np.ones((100, 200, 3), np.uint8)
    assert crop_patch(image, (0, 0), 256).shape == (100, 200, 3)
    padded = crop_patch(np.ones((100, 200), np.int64), (0, 0), 256, pad_value=0)
    assert padded.shape == (256, 256) and padded[150, 150] == 0 and padded[50, 50] == 1


def test_crop_patch_copies_the_right_window():
    lm = np.arange(1000 * 1000).reshape(1000, 1000)
    patch = crop_patch(lm, (744, 248), 256)
    assert patch.shape == (256, 256) and patch[0, 0] == lm[248, 744]
    patch[0, 0] = -1
    assert lm[248, 744] != -1
    with pytest.raises(ValueError, match='outside'):
        crop_patch(lm, (1000, 0), 256)
