"""Seed sets are label sets: COCO round trip, info fields, and loading in mmdet's NucleiDataset."""
import json

import numpy as np
import pytest

from mmcyclic.datasets import NucleiDataset
from mmcyclic.datasets.coco_format import annotations_to_label_map
from mmcyclic.datasets.label_sets import (LabelSetError, load_image_infos, load_label_set,
                                          seed_set_from_label_maps)


def _seeds():
    first = np.zeros((96, 96), np.int32)
    first[10:20, 10:22] = 1
    first[40:52, 60:70] = 2
    return {1: (first, [0.9, 0.6])}  # image 2: no seed


def test_round_trip_and_nuclei_dataset(tiny_dataset, tmp_path):
    infos = load_image_infos(tiny_dataset / 'annotations' / 'instances_train_full.json')
    seeds = seed_set_from_label_maps(infos, _seeds(),
                                     {'cycle': 1, 'round': 0, 'recipe': {'threshold': 0.35}})
    path = tmp_path / 'seeds.json'
    seeds.save(path)
    loaded = load_label_set(path)
    info = loaded.info
    assert info['source'] == 'seed' and info['description'] == 'mmcyclic seed set'
    assert info['cycle'] == 1 and info['round'] == 0 and info['recipe'] == {'threshold': 0.35}
    assert info['num_seeds'] == 2 and info['images_without_seeds'] == ['synth_1']
    assert [img['source_id'] for img in loaded.images] == ['synth_0', 'synth_1']
    assert loaded.images[0]['label_map'] == 'labels/synth_0.png'
    assert [(a['score'], a['source'], a['instance_id']) for a in loaded.annotations] == [
        (0.9, 'seed', 1), (0.6, 'seed', 2)]
    by_image = loaded.by_image()
    assert np.array_equal(annotations_to_label_map(by_image[1], 96, 96), _seeds()[1][0])
    assert not by_image[2]

    dataset = NucleiDataset(ann_file=str(path), data_root=str(tiny_dataset),
                            data_prefix=dict(img=''), pipeline=[], test_mode=True)
    assert len(dataset) == 2
    first = dataset.get_data_info(0)
    assert first['source_id'] == 'synth_0' and len(first['instances']) == 2
    assert first['instances'][0]['bbox'] == [10.0, 10.0, 22.0, 20.0]
    assert first['label_map_path'].endswith('labels/synth_0.png')


def test_unreadable_files_are_named(tiny_dataset, tmp_path):
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(LabelSetError, match='broken.json: cannot read'):
        load_label_set(broken)
    with pytest.raises(ValueError, match='instances_train_full'):
        load_image_infos(broken)
    (tmp_path / 'empty.json').write_text(json.dumps({'images': []}))
    with pytest.raises(ValueError, match='no "images"'):
        load_image_infos(tmp_path / 'empty.json')
