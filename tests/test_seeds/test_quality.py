"""Seed precision/recall/IoU against ground truth."""
import math

import numpy as np

from mmcyclic.seeds import seed_quality, summarise_quality


def test_matching_counts():
    gt = np.zeros((50, 50), np.int64)
    gt[5:15, 5:15] = 1
    gt[20:30, 20:30] = 2
    gt[35:45, 35:45] = 3
    seeds = np.zeros_like(gt)
    seeds[5:15, 5:15] = 1  # exact: IoU 1
    seeds[20:30, 22:32] = 2  # shifted by 2 px: IoU 80/120
    seeds[0:4, 40:48] = 3  # on background
    q = seed_quality(seeds, gt)
    assert (q['seeds'], q['gt'], q['matched']) == (3, 3, 2)
    assert math.isclose(q['precision'], 2 / 3) and math.isclose(q['recall'], 2 / 3)
    assert math.isclose(q['mean_iou'], (1 + 80 / 120) / 2)
    half = np.zeros_like(gt)
    half[5:15, 10:20] = 1  # IoU 50/150 < 0.5: not correct
    assert seed_quality(half, gt)['matched'] == 0


def test_summary_is_micro_averaged_and_handles_empty():
    gt = np.zeros((20, 20), np.int64)
    gt[2:8, 2:8] = 1
    empty = seed_quality(np.zeros_like(gt), gt)
    assert empty['seeds'] == 0 and math.isnan(empty['precision']) and empty['recall'] == 0
    perfect = seed_quality(gt.copy(), gt)
    summary = summarise_quality({'a': empty, 'b': perfect})
    assert summary['precision'] == 1.0 and summary['recall'] == 0.5
    assert summary['seeds_per_image'] == 0.5 and summary['images_without_seeds'] == 1
