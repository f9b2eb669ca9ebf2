"""Generic converter: images + PNG/TIFF/NPY label maps matched by stem, splits, unmatched files."""
import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from mmcyclic.datasets.converters.generic import convert_generic, generic_samples
from mmcyclic.datasets.io import read_label_map


def _label_map(rng, big_ids=False):
    lm = np.zeros((40, 40), np.int64)
    for k in range(1, 5):
        y, x = rng.integers(0, 34, 2)
        lm[y:y + 6, x:x + 6] = k + (70000 if big_ids else 0)
    return lm


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = tmp_path / 'images', tmp_path / 'labels'
    images.mkdir()
    labels.mkdir()
    maps = {}
    for stem in ('a', 'b', 'c', 'd', 'e'):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(images / f'{stem}.png')
    tifffile.imwrite(images / 'f.tif', rng.integers(0, 255, (40, 40, 3), np.uint8))
    maps['a'] = _label_map(rng)
    Image.fromarray(maps['a'].astype(np.uint16)).save(labels / 'a_label.png')
    maps['b'] = _label_map(rng)
    tifffile.imwrite(labels / 'b_label.tif', maps['b'].astype(np.uint32))
    maps['c'] = _label_map(rng, big_ids=True)
    np.save(labels / 'c_label.npy', maps['c'])
    maps['f'] = _label_map(rng)
    np.save(labels / 'f_label.npy', maps['f'])
    maps['d'] = _label_map(rng)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(labels / 'd_label.png')  # colour
    np.save(labels / 'z_label.npy', _label_map(rng))                               # no image
    return images, labels, maps


def test_generic_with_split_file(folders, tmp_path):
    images, labels, maps = folders
    split_file = tmp_path / 'split.json'
    split_file.write_text(json.dumps({'train': ['a', 'b', 'd'], 'val': ['c'], 'test': ['f', 'q']}))
    out = tmp_path / 'out'
    log = convert_generic(images, labels, out, name='own', split_file=split_file,
                          label_suffix='_label', progress=False)
    entries = log['images']
    assert entries['e']['reason'] == 'unmatched_image' and 'e.png' in entries['e']['message']
    assert entries['z']['reason'] == 'unmatched_label' and 'z_label.npy' in entries['z']['message']
    assert entries['q']['reason'] == 'missing_image'
    assert entries['d']['reason'] == 'unreadable' and 'd_label.png' in entries['d']['message']
    for stem in ('a', 'b', 'c', 'f'):
        written = read_label_map(out / 'labels' / f'{stem}.png')  # big ids fit after relabelling
        np.testing.assert_array_equal(written > 0, maps[stem] > 0)
        assert written.max() == len(np.unique(maps[stem])) - 1
    splits = json.loads((out / 'splits.json').read_text())
    assert splits['train'] == ['a', 'b'] and splits['val'] == ['c'] and splits['test'] == ['f']
    assert splits['seed'] is None


def test_generic_seeded_split_is_reproducible(folders):
    images, labels, _ = folders
    first, info = generic_samples(images, labels, seed=3, label_suffix='_label',
                                  val_fraction=0.25, test_fraction=0.25)
    again, _ = generic_samples(images, labels, seed=3, label_suffix='_label',
                               val_fraction=0.25, test_fraction=0.25)
    assignment = {s.id: s.split for s in first if hasattr(s, 'load')}
    assert assignment == {s.id: s.split for s in again if hasattr(s, 'load')}
    assert sorted(assignment) == ['a', 'b', 'c', 'd', 'f']
    assert sorted(assignment.values()).count('train') == 3 and info['seed'] == 3


def test_split_file_errors(folders, tmp_path):
    images, labels, _ = folders
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'train': ['a'], 'test': ['a']}))
    with pytest.raises(ValueError, match="'a' is in both"):
        generic_samples(images, labels, split_file=bad)
