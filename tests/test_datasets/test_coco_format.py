"""Label map <-> COCO RLE conversion: exact round trips, pycocotools agreement, speed."""
import time

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmcyclic.datasets.coco_format import (NUCLEUS_CATEGORY, annotations_to_label_map,
                                           label_map_to_annotations, make_coco, write_coco)


def _tricky_label_map() -> np.ndarray:
    """Objects at corners and borders, one pixel, two parts of one id, sparse big ids."""
    lm = np.zeros((40, 50), dtype=np.int64)
    lm[0, 0] = 7                 # single pixel at the first RLE position
    lm[-1, -1] = 70000           # last pixel; id beyond 16 bits
    lm[5:15, 0:8] = 3            # touches the left border
    lm[10:40, 45:50] = 12        # touches bottom and right borders
    lm[20:25, 10:20] = 5         # id 5, part one ...
    lm[30:33, 30:40] = 5         # ... and part two
    lm[20:25, 20:30] = 6         # touches id 5
    lm[0:40, 25] = 9             # full-height column
    return lm


def test_round_trip_exact():
    lm = _tricky_label_map()
    anns = label_map_to_annotations(lm, image_id=3, first_ann_id=10)
    assert [a['id'] for a in anns] == list(range(10, 10 + len(anns)))
    assert sorted(a['instance_id'] for a in anns) == sorted(set(np.unique(lm)) - {0})
    np.testing.assert_array_equal(annotations_to_label_map(anns, *lm.shape), lm)


def test_rle_matches_pycocotools_full_mask_encoding():
    lm = _tricky_label_map()
    for ann in label_map_to_annotations(lm, 1, 1):
        mask = np.asfortranarray((lm == ann['instance_id']).astype(np.uint8))
        reference = mask_utils.encode(mask)
        assert ann['segmentation']['counts'] == reference['counts'].decode('ascii')
        assert isinstance(ann['segmentation']['counts'], str)
        assert ann['area'] == int(mask.sum()) == int(mask_utils.area(reference))
        assert ann['bbox'] == [float(v) for v in mask_utils.toBbox(reference)]
        assert ann['category_id'] == 1 and ann['iscrowd'] == 0 and ann['image_id'] == 1


def test_min_area_and_empty_map():
    lm = _tricky_label_map()
    anns = label_map_to_annotations(lm, 1, 1, min_area=2)
    assert {a['instance_id'] for a in anns} == {3, 5, 6, 9, 12}
    assert label_map_to_annotations(np.zeros((8, 8), int), 1, 1) == []


def test_later_annotations_do_not_overwrite_and_fallback_ids():
    a = np.zeros((10, 10), np.int64)
    a[2:6, 2:6] = 1
    b = np.zeros((10, 10), np.int64)
    b[4:8, 4:8] = 1
    first = label_map_to_annotations(a, 1, 1)[0]
    second = label_map_to_annotations(b, 1, 2)[0]  # same instance_id 1 -> numbered in order
    out = annotations_to_label_map([first, second], 10, 10)
    assert (out[2:6, 2:6] == 1).all()             # the earlier one keeps the overlap
    assert out[7, 7] == 2 and out[4, 7] == 2 and (out[out > 0] > 0).all()
    assert (out > 0).sum() == 16 + 16 - 4


def test_polygon_and_uncompressed_segmentations():
    poly = {'segmentation': [[1, 1, 8, 1, 8, 6, 1, 6]], 'instance_id': 4}
    counts = {'segmentation': {'size': [10, 10], 'counts': [0, 5, 95]}, 'instance_id': 2}
    out = annotations_to_label_map([poly, counts], 10, 10)
    assert out[3, 4] == 4
    assert (out[0:5, 0] == 2).all()


def test_make_and_write_coco(tmp_path):
    anns = label_map_to_annotations(_tricky_label_map(), 1, 1)
    coco = make_coco([{'id': 1, 'file_name': 'a.png', 'height': 40, 'width': 50}], anns)
    assert coco['categories'] == [NUCLEUS_CATEGORY] == [{'id': 1, 'name': 'nucleus'}]
    write_coco(tmp_path / 'sub' / 'c.json', coco)
    from pycocotools.coco import COCO
    api = COCO(str(tmp_path / 'sub' / 'c.json'))
    decoded = api.annToMask(api.loadAnns(api.getAnnIds())[0])
    assert decoded.shape == (40, 50)
    assert not list(tmp_path.glob('sub/.*tmp*'))  # atomic write left no temporary file


def test_large_image_speed():
    """A 1000x1000 map with ~700 nuclei converts well under 2 s (checked loosely)."""
    rng = np.random.default_rng(0)
    lm = np.zeros((1000, 1000), np.int64)
    centres = rng.integers(10, 990, (700, 2))
    yy, xx = np.mgrid[-8:9, -8:9]
    disk = yy ** 2 + xx ** 2 <= 64
    for k, (y, x) in enumerate(centres, start=1):
        window = lm[y - 8:y + 9, x - 8:x + 9]
        window[disk & (window == 0)] = k
    start = time.perf_counter()
    anns = label_map_to_annotations(lm, 1, 1)
    elapsed = time.perf_counter() - start
    assert len(anns) == len(np.unique(lm)) - 1
    assert elapsed < 4.0, f'encoding took {elapsed:.2f} s'
    np.testing.assert_array_equal(annotations_to_label_map(anns, 1000, 1000), lm)


def test_rejects_bad_label_maps():
    with pytest.raises(ValueError, match='2-D'):
        label_map_to_annotations(np.zeros((2, 2, 3), int), 1, 1)
    with pytest.raises(ValueError, match='integer'):
        label_map_to_annotations(np.zeros((2, 2), float), 1, 1)
