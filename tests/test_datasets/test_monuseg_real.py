"""MoNuSeg converter on real images (skipped without ../shared/data): counts and round trips."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from mmcyclic.datasets.coco_format import annotations_to_label_map
from mmcyclic.datasets.converters.monuseg import KUMAR_TEST_IDS, convert_monuseg, kumar_split
from mmcyclic.datasets.io import read_label_map

TRAIN_ID = 'TCGA-50-5931-01Z-00-DX1'  # has a 2-point region in its XML
TEST_ID = 'TCGA-21-5784-01Z-00-DX1'
# The validation images chosen by the default seed 0 (also listed in data/README.md).
VAL_SEED0 = ['TCGA-38-6178-01Z-00-DX1', 'TCGA-G9-6356-01Z-00-DX1', 'TCGA-HE-7129-01Z-00-DX1',
             'TCGA-HE-7130-01Z-00-DX1']


def _two_image_src(monuseg_dir: Path, tmp_path: Path) -> Path:
    """A MoNuSeg-layout folder with links to two real images (fast to convert)."""
    src = tmp_path / 'src'
    for sub, suffix in (('images', '.tif'), ('annotations', '.xml'), ('instance_masks', '.png')):
        (src / 'train' / sub).mkdir(parents=True)
        for sample_id in (TRAIN_ID, TEST_ID):
            (src / 'train' / sub / f'{sample_id}{suffix}').symlink_to(
                monuseg_dir / 'train' / sub / f'{sample_id}{suffix}')
    (src / 'splits.json').write_text(json.dumps({'kumar_train': [TRAIN_ID],
                                                 'kumar_test': [TEST_ID]}))
    return src


def _check_coco_matches_label_maps(out: Path, split: str, sample_id: str) -> None:
    coco = json.loads((out / 'annotations' / f'instances_{split}_full.json').read_text())
    (record, ) = [r for r in coco['images'] if r['source_id'] == sample_id]
    anns = [a for a in coco['annotations'] if a['image_id'] == record['id']]
    label_map = read_label_map(out / record['label_map'])
    np.testing.assert_array_equal(
        annotations_to_label_map(anns, record['height'], record['width']), label_map)


def test_kumar_split_and_seeded_validation(monuseg_dir):
    lists = json.loads((monuseg_dir / 'splits.json').read_text())
    assert sorted(KUMAR_TEST_IDS) == sorted(lists['kumar_test'])
    split = kumar_split([], monuseg_dir / 'splits.json', val_seed=0)
    assert split['val'] == VAL_SEED0
    assert len(split['train']) == 12 and len(split['test']) == 14
    assert sorted(split['train'] + split['val']) == sorted(lists['kumar_train'])
    ids = [p.stem for p in (monuseg_dir / 'train' / 'images').glob('*.tif')]
    assert kumar_split(ids, None, val_seed=0)['val'] == VAL_SEED0  # hard-coded test ids agree
    assert kumar_split([], monuseg_dir / 'splits.json', val_seed=1)['val'] != VAL_SEED0


def test_xml_converter_counts_and_round_trip(monuseg_dir, tmp_path):
    src = _two_image_src(monuseg_dir, tmp_path)
    out = tmp_path / 'out'
    log = convert_monuseg(src, out, from_xml=True, num_val=0, progress=False)
    assert log['summary']['images_written'] == 2
    for sample_id, split in ((TRAIN_ID, 'train'), (TEST_ID, 'test')):
        entry = log['images'][sample_id]
        regions = len(list(ET.parse(src / 'train/annotations' / f'{sample_id}.xml').iter('Region')))
        skips = sum(v for k, v in entry['counts'].items() if k.startswith('skipped_'))
        assert entry['counts']['regions'] == regions
        assert entry['instances'] == regions - skips
        assert read_label_map(out / 'labels' / f'{sample_id}.png').max() == entry['instances']
        _check_coco_matches_label_maps(out, split, sample_id)
    assert log['images'][TRAIN_ID]['counts']['skipped_too_few_points'] == 1
    assert any(TRAIN_ID in m and 'skipped' in m for m in log['images'][TRAIN_ID]['messages'])


def test_label_map_converter_round_trip(monuseg_dir, tmp_path):
    src = _two_image_src(monuseg_dir, tmp_path)
    out = tmp_path / 'out'
    log = convert_monuseg(src, out, num_val=0, progress=False)
    source = read_label_map(src / 'train/instance_masks' / f'{TEST_ID}.png')
    assert log['images'][TEST_ID]['instances'] == len(np.unique(source)) - 1
    _check_coco_matches_label_maps(out, 'test', TEST_ID)
    coco = json.loads((out / 'annotations/instances_test.json').read_text())
    assert len(coco['images']) == 16
    assert sorted({tuple(r['patch_origin']) for r in coco['images']})[:2] == [(0, 0), (0, 248)]
    splits = json.loads((out / 'splits.json').read_text())
    assert splits['train'] == [TRAIN_ID] and splits['test'] == [TEST_ID]
    assert splits['seed'] == 0


@pytest.mark.parametrize('offset', [1.0])
def test_xml_offset_reproduces_published_masks(monuseg_dir, offset):
    """With the 1-based convention the XML raster matches the published label maps closely."""
    from mmcyclic.datasets.converters.monuseg_xml import xml_to_label_map
    ours, _, _ = xml_to_label_map(monuseg_dir / 'train/annotations' / f'{TEST_ID}.xml', 1000, 1000,
                                  coordinate_offset=offset)
    ref = read_label_map(monuseg_dir / 'train/instance_masks' / f'{TEST_ID}.png')
    iou = np.logical_and(ours > 0, ref > 0).sum() / np.logical_or(ours > 0, ref > 0).sum()
    assert iou > 0.95


def test_official_archive_layouts_give_the_same_conversion(monuseg_dir, tmp_path):
    """Item 6 of issue 19: the README converts from the official archives as unzipped
    (training: Tissue Images/ + Annotations/; test: .tif and .xml side by side)."""
    from mmcyclic.datasets.converters.cli import run_conversion
    train = tmp_path / 'MoNuSeg 2018 Training Data'
    test = tmp_path / 'MoNuSegTestData'
    for folder, sample_id in ((train / 'Tissue Images', TRAIN_ID), (test, TEST_ID)):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f'{sample_id}.tif').symlink_to(monuseg_dir / 'train/images' / f'{sample_id}.tif')
    (train / 'Annotations').mkdir()
    for folder, sample_id in ((train / 'Annotations', TRAIN_ID), (test, TEST_ID)):
        (folder / f'{sample_id}.xml').symlink_to(
            monuseg_dir / 'train/annotations' / f'{sample_id}.xml')
    official = tmp_path / 'official'
    assert run_conversion(lambda: convert_monuseg(train, official, from_xml=True, num_val=0,
                                                  test_src=test, progress=False),
                          str(official)) == 0
    splits = json.loads((official / 'splits.json').read_text())
    assert splits['train'] == [TRAIN_ID] and splits['test'] == [TEST_ID]
    reference = tmp_path / 'reference'
    convert_monuseg(_two_image_src(monuseg_dir, tmp_path), reference, from_xml=True, num_val=0,
                    progress=False)
    for sample_id in (TRAIN_ID, TEST_ID):
        np.testing.assert_array_equal(read_label_map(official / 'labels' / f'{sample_id}.png'),
                                      read_label_map(reference / 'labels' / f'{sample_id}.png'))
