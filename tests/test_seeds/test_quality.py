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


def test_pixel_precision_and_hit_rate_separate_place_from_outline():
    """A seed twice the size of its nucleus is in the right place (centroid inside, most
    pixels on a nucleus) but not correct; a seed on background is neither."""
    gt = np.zeros((60, 60), np.int64)
    gt[10:20, 10:20] = 1
    gt[10:20, 30:40] = 2
    seeds = np.zeros_like(gt)
    seeds[10:20, 8:22] = 1  # 140 px over nucleus 1 (100 px): IoU 0.71, correct
    seeds[5:25, 30:40] = 2  # 200 px over nucleus 2 (100 px): IoU 0.5, correct
    seeds[45:55, 45:55] = 3  # background
    q = seed_quality(seeds, gt)
    assert (q['seed_pixels'], q['seed_pixels_on_gt'], q['hits']) == (440, 200, 2)
    assert math.isclose(q['pixel_precision'], 200 / 440) and math.isclose(q['hit_rate'], 2 / 3)
    wide = np.zeros_like(gt)
    wide[6:24, 26:44] = 1  # 324 px around nucleus 2: IoU 0.31, but centroid inside
    q = seed_quality(wide, gt)
    assert q['matched'] == 0 and q['hit_rate'] == 1.0
    assert math.isclose(q['pixel_precision'], 100 / 324)
    summary = summarise_quality({'a': seed_quality(seeds, gt), 'b': q})
    assert math.isclose(summary['pixel_precision'], 300 / 764)
    assert math.isclose(summary['hit_rate'], 3 / 4)


def test_report_has_placement_keys_and_is_skipped_without_ground_truth(tmp_path):
    from mmcyclic.datasets.io import write_label_map
    from mmcyclic.seeds import SeedExtraction, SeedRecipe, seed_quality_report
    from mmcyclic.seeds.recipe import SeedResult
    gt = np.zeros((30, 30), np.int32)
    gt[5:15, 5:15] = 1
    write_label_map(tmp_path / 'labels' / 'a.png', gt)
    extraction = SeedExtraction({}, {'a': SeedResult(gt.copy(), [1.0])})
    infos = [{'id': 1, 'source_id': 'a', 'file_name': 'images/a.png',
              'label_map': 'labels/a.png'}]
    summary = seed_quality_report(extraction, infos, str(tmp_path), str(tmp_path / 'r'),
                                  SeedRecipe())
    assert summary['pixel_precision'] == 1.0 and summary['hit_rate'] == 1.0
    assert 'hit rate' in (tmp_path / 'r' / 'seed_quality.md').read_text()
    no_gt = [{**infos[0], 'label_map': None}]
    assert seed_quality_report(extraction, no_gt, str(tmp_path), str(tmp_path / 's'),
                               SeedRecipe()) is None
    assert not (tmp_path / 's').exists()


def test_report_scores_the_controls_beside_the_seeds(tmp_path):
    """Issue 24 item 1: the untrained-classifier and random-K controls are scored on the same
    images and written into the JSON, the summary and the markdown table."""
    import json

    from mmcyclic.datasets.io import write_label_map
    from mmcyclic.seeds import SeedExtraction, SeedRecipe, seed_quality_report
    from mmcyclic.seeds.controls import RANDOM_SELECTION, UNTRAINED_CLASSIFIER
    from mmcyclic.seeds.recipe import SeedResult
    gt = np.zeros((30, 30), np.int32)
    gt[5:15, 5:15] = 1
    gt[18:28, 18:28] = 2
    write_label_map(tmp_path / 'labels' / 'a.png', gt)
    wrong = np.zeros_like(gt)
    wrong[0:4, 20:30] = 1  # on background
    half = gt.copy()
    half[18:28, 18:28] = 0
    half[0:4, 20:30] = 2
    extraction = SeedExtraction({}, {'a': SeedResult(gt.copy(), [1.0, 1.0])}, controls={
        UNTRAINED_CLASSIFIER: {'a': SeedResult(wrong, [1.0])},
        RANDOM_SELECTION: {'a': SeedResult(half, [1.0, 1.0])}})
    infos = [{'id': 1, 'source_id': 'a', 'file_name': 'images/a.png',
              'label_map': 'labels/a.png'}]
    summary = seed_quality_report(extraction, infos, str(tmp_path), str(tmp_path / 'r'),
                                  SeedRecipe())
    assert summary['precision'] == 1.0
    assert summary['controls'][UNTRAINED_CLASSIFIER]['precision'] == 0.0
    assert summary['controls'][RANDOM_SELECTION]['precision'] == 0.5
    saved = json.loads((tmp_path / 'r' / 'seed_quality.json').read_text())
    assert saved['summary']['controls'][RANDOM_SELECTION]['seeds'] == 2
    table = (tmp_path / 'r' / 'seed_quality.md').read_text()
    assert 'control: untrained classifier' in table and 'K drawn at random' in table


def test_random_selection_control_is_left_out_for_a_random_recipe():
    from mmcyclic.seeds import SeedRecipe
    from mmcyclic.seeds.controls import RANDOM_SELECTION, random_selection_recipes
    recipes = random_selection_recipes(SeedRecipe())
    assert recipes[RANDOM_SELECTION].config.selection == 'random'
    assert recipes[RANDOM_SELECTION].config.min_solidity == SeedRecipe().config.min_solidity
    assert random_selection_recipes(SeedRecipe(preset='paper')) == {}
