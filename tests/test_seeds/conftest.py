"""A tiny whole-image dataset in the docs/data_format.md layout, from synthetic H&E."""
from pathlib import Path

import pytest

from mmcyclic.datasets.coco_format import label_map_to_annotations, make_coco, write_coco
from mmcyclic.datasets.io import write_image, write_label_map
from mmcyclic.datasets.synthetic import generate_synthetic_he


@pytest.fixture(scope='module')
def tiny_dataset(tmp_path_factory) -> Path:
    """``data_root`` with 2 synthetic 96x96 images, labels and instances_train_full.json."""
    root = tmp_path_factory.mktemp('tiny')
    images, annotations = [], []
    for index, (image, label_map) in enumerate(generate_synthetic_he(2, size=96, seed=3)):
        source_id = f'synth_{index}'
        write_image(root / 'images' / f'{source_id}.png', image)
        write_label_map(root / 'labels' / f'{source_id}.png', label_map)
        images.append({'id': index + 1, 'file_name': f'images/{source_id}.png', 'height': 96,
                       'width': 96, 'patch_origin': [0, 0], 'source_id': source_id,
                       'source_shape': [96, 96], 'label_map': f'labels/{source_id}.png'})
        annotations += label_map_to_annotations(label_map, index + 1, len(annotations) + 1)
    write_coco(root / 'annotations' / 'instances_train_full.json', make_coco(images, annotations))
    return root
