"""NucleiMetric on hand-made predictions: patches stitched back, scores computed by hand (fast)."""
import csv
import math

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

from mmcyclic.datasets.io import read_label_map, write_label_map
from mmcyclic.evaluation import NucleiMetric

# Image "a" (8 x 8) is cut into two overlapping 8 x 6 patches: columns 0:6 and 2:8.
#   nucleus 1: rows 0:2, columns 4:7 (6 px). The left patch sees only columns 4:6, the
#              right patch all of it: stitching must merge the two into one 6 px instance.
#   nucleus 2: rows 5:8, columns 0:2 (6 px), only in the left patch, predicted as rows 5:7
#              (4 px).
# Image "b" (4 x 4) has one nucleus (rows 1:3, columns 1:3) and no prediction.
# Image "c" has no ground-truth label map: it is not scored.
GT_A = np.zeros((8, 8), np.int32)
GT_A[0:2, 4:7] = 1
GT_A[5:8, 0:2] = 2
GT_B = np.zeros((4, 4), np.int32)
GT_B[1:3, 1:3] = 7
# The stitched prediction of "a": ids in order of placement (decreasing score).
STITCHED_A = np.zeros((8, 8), np.int32)
STITCHED_A[0:2, 4:7] = 1
STITCHED_A[5:7, 0:2] = 2

# Image a by hand: intersections 6 and 4; gt areas 6 + 6; predicted areas 6 + 4.
DICE_A = 2 * (6 + 4) / (12 + 10)
AJI_A = (6 + 4) / (6 + 6)  # matched pairs' unions: 6 and 6; no unmatched object
PQ_A = 1.0 * (1.0 + 4 / 6) / 2  # two true positives (IoU 1 and 4/6): DQ 1, SQ their mean
# Object Dice: partner Dice 1 and 2*4/10, weighted by area on each side.
OBJECT_DICE_A = 0.5 * ((6 * 1 + 6 * 0.8) / 12 + (6 * 1 + 4 * 0.8) / 10)
# Object Hausdorff: 0 for nucleus 1; 1 px for nucleus 2 (its row 7 is 1 px from row 6).
HAUSDORFF_A = 0.5 * ((6 * 0 + 6 * 1) / 12 + (6 * 0 + 4 * 1) / 10)


def _patch_sample(source_id, source_shape, label_map_path, origin, patch_shape, masks, scores):
    """A predicted DetDataSample of one patch with the provenance keys NucleiDataset sets."""
    sample = DetDataSample(metainfo=dict(
        img_id=0, ori_shape=patch_shape, source_id=source_id,
        source_shape=source_shape, label_map_path=label_map_path, patch_origin=origin))
    pred = InstanceData()
    pred.scores = torch.tensor(scores, dtype=torch.float32)
    pred.labels = torch.zeros(len(scores), dtype=torch.long)
    pred.bboxes = torch.zeros((len(scores), 4))
    pred.masks = torch.from_numpy(np.array(masks, dtype=bool).reshape(-1, *patch_shape))
    sample.pred_instances = pred
    return sample


def _samples(tmp_path):
    """The patches of images a, b and c as a model would return them (patch coordinates)."""
    write_label_map(tmp_path / 'a.png', GT_A)
    write_label_map(tmp_path / 'b.png', GT_B)
    left = np.zeros((2, 8, 6), bool)
    left[0, 0:2, 4:6] = True  # nucleus 1, cut by the patch's right edge
    left[1, 5:7, 0:2] = True  # most of nucleus 2
    right = np.zeros((2, 8, 6), bool)
    right[0, 0:2, 2:5] = True  # nucleus 1 whole (image columns 4:7)
    right[1, 6:8, 3:5] = True  # background, but below score_thr: ignored
    a = str(tmp_path / 'a.png')
    return [
        _patch_sample('a', (8, 8), a, (0, 0), (8, 6), left, [0.9, 0.7]),
        _patch_sample('a', (8, 8), a, (2, 0), (8, 6), right, [0.8, 0.3]),
        _patch_sample('b', (4, 4), str(tmp_path / 'b.png'), (0, 0), (4, 4), [], []),
        _patch_sample('c', (4, 4), None, (0, 0), (4, 4), [], []),
    ]


def test_patches_are_stitched_and_scored_per_image(tmp_path):
    """Image a stitched from two patches, image b without prediction (all 0, Hausdorff
    undefined), image c without ground truth (not scored); means over the two scored images."""
    evaluator = Evaluator(NucleiMetric(score_thr=0.5, out_dir=str(tmp_path / 'out'),
                                       save_label_maps=True))
    samples = _samples(tmp_path)
    evaluator.process(data_samples=samples[:2])
    evaluator.process(data_samples=samples[2:])
    metrics = evaluator.evaluate(len(samples))

    expected = {
        'pixel_dice': (DICE_A + 0) / 2, 'aji': (AJI_A + 0) / 2, 'aji_plus': (AJI_A + 0) / 2,
        'dq': (1 + 0) / 2, 'sq': (1 + 4 / 6) / 2 / 2, 'pq': (PQ_A + 0) / 2,
        'object_dice': (OBJECT_DICE_A + 0) / 2,
        'object_hausdorff': HAUSDORFF_A,  # b's is undefined: left out of the mean
        'object_hausdorff_skipped': 1,
        'dice_aggregate': 2 * (6 + 4) / ((12 + 4) + 10),  # sum over images, then the ratio
        'num_images': 2,
    }
    assert set(metrics) == {f'nuclei/{k}' for k in expected}
    for key, value in expected.items():
        assert metrics[f'nuclei/{key}'] == pytest.approx(value), key

    # The stitched prediction of a (nucleus 1 merged across patches) and b (empty).
    np.testing.assert_array_equal(read_label_map(tmp_path / 'out' / 'label_maps' / 'a.png'),
                                  STITCHED_A)
    assert not read_label_map(tmp_path / 'out' / 'label_maps' / 'b.png').any()
    assert not (tmp_path / 'out' / 'label_maps' / 'c.png').exists()

    with open(tmp_path / 'out' / 'nuclei_per_image.csv', newline='') as handle:
        rows = {row['image']: row for row in csv.DictReader(handle)}
    assert set(rows) == {'a', 'b'}
    assert float(rows['a']['pixel_dice']) == pytest.approx(DICE_A)
    assert float(rows['a']['aji']) == pytest.approx(AJI_A)
    assert float(rows['a']['pq']) == pytest.approx(PQ_A)
    assert (float(rows['b']['pixel_dice']), float(rows['b']['aji']), float(rows['b']['pq'])) \
        == (0.0, 0.0, 0.0)
    assert math.isnan(float(rows['b']['object_hausdorff']))


def test_score_threshold_decides_which_instances_count(tmp_path):
    """With score_thr=0.2 the background instance of the right patch (score 0.3) counts: image
    a gets a false positive of 4 px."""
    metric = NucleiMetric(score_thr=0.2, out_dir=str(tmp_path / 'out'))
    metric.dataset_meta = {}
    metric.process({}, [s.to_dict() for s in _samples(tmp_path)[:2]])
    metrics = metric.compute_metrics(metric.results)
    # Extra predicted object: 4 px at image rows 6:8, columns 5:7, no overlap.
    assert metrics['pixel_dice'] == pytest.approx(2 * 10 / (12 + 14))
    assert metrics['aji'] == pytest.approx(10 / (12 + 4))  # unmatched prediction joins the union
    assert metrics['dq'] == pytest.approx(2 / (2 + 0.5 * 1))
    assert metrics['num_images'] == 1


def test_legacy_numbers_count_every_detection_the_others_only_confident_ones(tmp_path):
    """Issue 24 item 8: the official evaluation scores every detection (score 0). With
    score_thr 0.5 the background instance (score 0.3) is out of the main numbers and in the
    legacy ones: legacy Dice = the pixel Dice with that false positive."""
    from mmcyclic.evaluation.functional import legacy_paper_metrics
    metric = NucleiMetric(score_thr=0.5, legacy=True, out_dir=str(tmp_path / 'out'))
    metric.dataset_meta = {}
    metric.process({}, [s.to_dict() for s in _samples(tmp_path)[:2]])
    metrics = metric.compute_metrics(metric.results)
    assert metrics['pixel_dice'] == pytest.approx(DICE_A)
    every = STITCHED_A.copy()
    every[6:8, 5:7] = 3  # the score-0.3 instance of the right patch
    expected = legacy_paper_metrics(GT_A, every)
    confident = legacy_paper_metrics(GT_A, STITCHED_A)
    assert expected != confident
    for key, value in expected.items():
        assert metrics[f'legacy/{key}'] == pytest.approx(value, nan_ok=True), key


def test_no_image_with_ground_truth_is_an_error(tmp_path):
    metric = NucleiMetric(out_dir=str(tmp_path))
    metric.process({}, [_samples(tmp_path)[3].to_dict()])
    with pytest.raises(ValueError, match='no image could be scored'):
        metric.compute_metrics(metric.results)
