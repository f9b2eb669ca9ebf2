"""CoNSeP converter on a tiny fake dataset in the CoNSeP layout.

``Train|Test/Images/*.png`` + ``Train|Test/Labels/*.mat`` with ``inst_map``.
"""
import json

import numpy as np
import scipy.io
from PIL import Image

from mmcyclic.datasets.converters.consep import convert_consep
from mmcyclic.datasets.io import read_image, read_label_map


def _write_pair(folder, stem, rng, key='inst_map'):
    (folder / 'Images').mkdir(parents=True, exist_ok=True)
    (folder / 'Labels').mkdir(parents=True, exist_ok=True)
    rgba = rng.integers(0, 255, (48, 64, 4), np.uint8)  # CoNSeP PNGs carry an alpha channel
    Image.fromarray(rgba, 'RGBA').save(folder / 'Images' / f'{stem}.png')
    inst = np.zeros((48, 64))
    for k in range(1, 6):
        y, x = rng.integers(0, 40), rng.integers(0, 56)
        inst[y:y + 6, x:x + 7] = k  # float64, as in CoNSeP
    scipy.io.savemat(folder / 'Labels' / f'{stem}.mat',
                     {key: inst, 'type_map': (inst > 0).astype(float)})
    return rgba, inst


def test_consep_layout_split_and_problems(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / 'CoNSeP'
    arrays = {f'train_{i}': _write_pair(src / 'Train', f'train_{i}', rng) for i in range(1, 5)}
    arrays.update({f'test_{i}': _write_pair(src / 'Test', f'test_{i}', rng) for i in (1, 2)})
    _write_pair(src / 'Test', 'test_3', rng, key='other_map')     # no inst_map
    (src / 'Test/Labels/test_1.mat').rename(src / 'Test/Labels/test_9.mat')  # orphan label
    log = convert_consep(src, tmp_path / 'out', val_seed=0, progress=False)
    out = tmp_path / 'out'
    images = log['images']
    assert images['test_3']['reason'] == 'malformed_annotation'
    assert 'test_3.mat' in images['test_3']['message'] and 'inst_map' in images['test_3']['message']
    assert images['test_1']['reason'] == 'missing_annotation'
    assert images['test_9']['reason'] == 'missing_image'
    splits = json.loads((out / 'splits.json').read_text())
    assert len(splits['val']) == 1 and len(splits['train']) == 3 and splits['test'] == ['test_2']
    assert splits['val'] == splits['val_ids'] and splits['seed'] == 0
    for stem in splits['train'] + splits['val'] + splits['test']:
        rgba, inst = arrays[stem]
        np.testing.assert_array_equal(read_image(out / 'images' / f'{stem}.png'), rgba[..., :3])
        written = read_label_map(out / 'labels' / f'{stem}.png')
        np.testing.assert_array_equal(written > 0, inst > 0)
        assert written.max() == len(np.unique(inst)) - 1
    assert log['summary']['patches'] == 5  # smaller than a patch: one patch per image
    coco = json.loads((out / 'annotations/instances_train.json').read_text())
    assert all(r['height'] == 48 and r['width'] == 64 for r in coco['images'])
