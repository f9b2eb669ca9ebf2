"""Label sets: the union rule, cutting into patches, GT subsampling, the validity check."""
import copy
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from mmcyclic.datasets.coco_format import label_map_to_annotations, make_coco, write_coco
from mmcyclic.datasets.label_sets import (LabelSet, LabelSetError, label_set_from_label_maps,
                                          load_label_set, patch_training_coco,
                                          subsample_ground_truth, union_label_sets)

TOOLS = Path(__file__).resolve().parents[2] / 'tools'
IMAGE = {'id': 7, 'file_name': 'images/a.png', 'height': 40, 'width': 40, 'source_id': 'a',
         'patch_origin': [0, 0], 'source_shape': [40, 40]}


def _set(boxes, source):
    """One annotation per (y0, y1, x0, x1) box, all on IMAGE."""
    anns = []
    for k, (y0, y1, x0, x1) in enumerate(boxes, 1):
        mask = np.zeros((40, 40), np.int32)
        mask[y0:y1, x0:x1] = 1
        ann = label_map_to_annotations(mask, IMAGE['id'], k)[0]
        ann.update(source=source, score=1.0, tag=(y0, y1, x0, x1))
        anns.append(ann)
    return LabelSet([dict(IMAGE)], anns)


def test_union_drops_only_repeats_at_iou_threshold():
    existing = _set([(0, 10, 0, 10), (20, 30, 20, 30)], 'seed')
    new = _set([
        (0, 10, 1, 10),     # IoU 0.9 with the first seed -> dropped
        (0, 10, 30, 40),    # disjoint -> kept
        (20, 30, 26, 36),   # IoU 40/160 = 0.25 with the second seed -> kept
        (20, 30, 25, 35),   # IoU 50/150 = 0.33 -> kept
        (20, 30, 22, 30),   # IoU 0.8 -> dropped
    ], 'prediction')
    union, counts = union_label_sets(existing, new, iou_thr=0.5)
    assert counts == {'kept': 3, 'dropped_as_duplicate': 2}
    assert [a['tag'] for a in union.annotations] == [
        (0, 10, 0, 10), (20, 30, 20, 30), (0, 10, 30, 40), (20, 30, 26, 36), (20, 30, 25, 35)]
    assert [a['source'] for a in union.annotations] == ['seed'] * 2 + ['prediction'] * 3
    # A stricter threshold keeps the 0.8 overlap too.
    assert union_label_sets(existing, new, iou_thr=0.85)[1]['kept'] == 4


def test_patch_training_coco_cuts_instances_and_tags_the_set():
    patches = make_coco([
        dict(IMAGE, id=1, file_name='p0.png', height=24, width=40, patch_origin=[0, 0]),
        dict(IMAGE, id=2, file_name='p1.png', height=24, width=40, patch_origin=[0, 16]),
    ], [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 1, 1], 'area': 1,
         'segmentation': [], 'iscrowd': 0}])  # ground truth: must be discarded
    m = _set([(18, 22, 5, 10)], 'seed')            # crosses both patches (rows 16..23 shared)
    m_prime = _set([(30, 36, 30, 36)], 'prediction')  # only in the second patch
    coco = patch_training_coco(patches, [m, m_prime], ['M', 'M_prime'])
    assert [c['name'] for c in coco['categories']] == ['M', 'M_prime']
    got = sorted((a['image_id'], a['category_id'], a['area'], tuple(a['bbox']))
                 for a in coco['annotations'])
    assert got == [(1, 1, 20, (5.0, 18.0, 5.0, 4.0)),
                   (2, 1, 20, (5.0, 2.0, 5.0, 4.0)),
                   (2, 2, 36, (30.0, 14.0, 6.0, 6.0))]


def test_subsample_ground_truth_keeps_at_most_k_and_is_seeded(tmp_path):
    gt = np.zeros((40, 40), np.int32)
    for k in range(10):
        gt[4 * k:4 * k + 3, 0:3] = k + 1
    path = tmp_path / 'full.json'
    write_coco(path, make_coco([IMAGE], label_map_to_annotations(gt, IMAGE['id'], 1)))
    a, b = subsample_ground_truth(path, 4, seed=1), subsample_ground_truth(path, 4, seed=1)
    assert len(a.annotations) == 4
    assert [x['instance_id'] for x in a.annotations] == [x['instance_id'] for x in b.annotations]
    assert {x['source'] for x in a.annotations} == {'seed'}
    assert len(subsample_ground_truth(path, 40).annotations) == 10
    a.save(tmp_path / 'seeds.json')
    assert len(load_label_set(tmp_path / 'seeds.json').annotations) == 4


def test_label_set_from_label_maps_keeps_scores_and_empty_images():
    lm = np.zeros((40, 40), np.int32)
    lm[1:5, 1:5], lm[10:15, 10:15] = 1, 2
    other = dict(IMAGE, id=8, source_id='b')
    s = label_set_from_label_maps([IMAGE, other], {7: (lm, np.array([0.9, 0.6]))})
    assert [a['score'] for a in s.annotations] == [0.9, 0.6]
    assert s.count_empty_images() == 1


def _gt_file(tmp_path):
    gt = np.zeros((40, 40), np.int32)
    gt[1:5, 1:5], gt[10:15, 10:15] = 1, 2
    path = tmp_path / 'full.json'
    write_coco(path, make_coco([IMAGE], label_map_to_annotations(gt, IMAGE['id'], 1)))
    return path


def test_seed_gt_and_pseudo_label_files_are_read_by_the_same_code(tmp_path, monkeypatch):
    """tools/make_gt_seeds.py output (no info.source) and pseudo labels both load and check."""
    full = _gt_file(tmp_path)
    gt_seeds = tmp_path / 'gt_seeds.json'
    monkeypatch.setattr(sys, 'argv', ['make_gt_seeds.py', '--ann', str(full), '--k', '1',
                                      '--out', str(gt_seeds)])
    runpy.run_path(str(TOOLS / 'make_gt_seeds.py'), run_name='__main__')
    seeds = load_label_set(gt_seeds)
    assert len(seeds.annotations) == 1 and 'source' not in seeds.info
    lm = np.zeros((40, 40), np.int32)
    lm[20:30, 20:30] = 1
    label_set_from_label_maps([IMAGE], {7: (lm, [0.7])}).save(tmp_path / 'predictions.json')
    pseudo = load_label_set(tmp_path / 'predictions.json', default_source='prediction')
    assert [(a['source'], a['score']) for a in pseudo.annotations] == [('prediction', 0.7)]


def _breaks(coco):
    """Each malformation and a fragment of the error it must raise."""
    def edited(edit):
        broken = copy.deepcopy(coco)
        edit(broken)
        return broken
    return [
        ([], '"images" and "annotations"'),
        (edited(lambda c: c.pop('annotations')), '"images" and "annotations"'),
        (edited(lambda c: c['images'].append(dict(c['images'][0]))), 'repeats'),
        (edited(lambda c: c['images'][0].pop('height')), '"height" and "width"'),
        (edited(lambda c: c['annotations'][0].update(image_id=99)), 'image 99'),
        (edited(lambda c: c['annotations'][0].update(segmentation=[[1, 2, 3, 4]])), 'RLE'),
        (edited(lambda c: c['annotations'][0]['segmentation'].update(size=[20, 40])),
         'RLE size'),
        (edited(lambda c: c['annotations'][0].pop('bbox')), '"bbox"'),
        (edited(lambda c: c['annotations'][0].update(score='high')), 'finite number'),
        (edited(lambda c: c['annotations'][0].update(source='teacher')), "'teacher'"),
    ]


def test_malformed_label_set_files_raise_an_error_naming_the_file(tmp_path):
    coco = json.loads(_gt_file(tmp_path).read_text())
    for index, (broken, problem) in enumerate(_breaks(coco)):
        path = tmp_path / f'broken_{index}.json'
        path.write_text(json.dumps(broken))
        with pytest.raises(LabelSetError) as error:
            load_label_set(path)
        assert str(error.value).startswith(f'{path}: ') and problem in str(error.value)
    (tmp_path / 'truncated.json').write_text('{"images": [')
    with pytest.raises(LabelSetError, match='truncated.json: cannot read'):
        subsample_ground_truth(tmp_path / 'truncated.json', 3)
