"""Image-level tile data: folder and CSV layouts with a corrupt file, random crops, simulation."""
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmcyclic.datasets import ImageLabelTileDataset
from mmcyclic.datasets.io import write_image

ROOT = Path(__file__).resolve().parents[2]


def _tiles(root: Path) -> None:
    rng = np.random.default_rng(0)
    for name, size in (('pos/a.png', 300), ('pos/b.png', 224), ('neg/c.png', 100)):
        write_image(root / name, rng.integers(0, 255, (size, size + 20, 3), np.uint8))
    (root / 'neg' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    (root / 'neg' / 'notes.txt').write_text('not an image suffix: ignored')


PIPELINE = [dict(type='LoadTile'),
            dict(type='RandomCrop', crop_size=224, pad_if_needed=True, padding_mode='reflect'),
            dict(type='PackInputs')]


def test_folder_layout_reports_corrupt_file(tmp_path):
    _tiles(tmp_path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = ImageLabelTileDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    assert len(dataset) == 3 and dataset.class_counts() == (1, 2)
    assert list(dataset.bad_files) == [str(tmp_path / 'neg' / 'broken.png')]
    assert 'broken.png' in next(iter(dataset.bad_files.values()))
    assert dataset.metainfo['classes'] == ('negative', 'positive')
    for index in range(3):  # larger tiles are cropped, smaller ones padded, to 224
        sample = dataset[index]
        assert tuple(sample['inputs'].shape) == (3, 224, 224)


def test_csv_layout_with_bad_rows(tmp_path):
    _tiles(tmp_path)
    (tmp_path / 'tiles.csv').write_text(
        'path,label\npos/a.png,pos\nneg/c.png,negative\nneg/broken.png,neg\n'
        'pos/b.png,maybe\nmissing.png,1\n')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = ImageLabelTileDataset(data_root=str(tmp_path), ann_file='tiles.csv',
                                        pipeline=PIPELINE)
    assert [d['gt_label'] for d in dataset.load_data_list()] == [1, 0]
    assert len(dataset.bad_files) == 3
    assert 'unknown label "maybe"' in dataset.bad_files[str(tmp_path / 'pos/b.png')]
    assert 'no such file' in dataset.bad_files[str(tmp_path / 'missing.png')]


def test_no_usable_tile_is_an_error(tmp_path):
    (tmp_path / 'pos').mkdir()
    with pytest.raises(ValueError, match='no usable tile'):
        ImageLabelTileDataset(data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='path,label'):
        ImageLabelTileDataset(data_root=str(tmp_path), ann_file='nope.csv')


def test_simulated_labels_from_ground_truth():
    from mmcyclic.datasets.simulated_tiles import label_crops
    label_map = np.zeros((64, 64), np.int64)
    label_map[4:10, 4:10] = 1  # whole inside the top-left crop
    label_map[30:36, 14:18] = 2  # cut by the crops at y0 = 32
    positive, negative, ambiguous = label_crops(label_map, tile_size=32, stride=32)
    assert sorted(positive) == [(0, 0)]
    assert sorted(negative) == [(0, 32), (32, 32)]
    assert ambiguous == 1  # (32, 0) holds only the cut nucleus 2
