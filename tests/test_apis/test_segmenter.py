"""NucleiSegmenter with a real (randomly initialised) R18 Mask R-CNN: settings and plumbing.

A random model predicts noise, so these tests check that tiles reach the
model as mmdet expects them and that its instances come back in the right
place; that tiling and stitching give the right nuclei is tested exactly in
test_tiled_inference.py with a fake detector.
"""
import dataclasses

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmcyclic.apis import NucleiResult, NucleiSegmenter, Tile, tile_windows
from mmcyclic.apis.segmenter import DEFAULT_SETTINGS, InferenceSettings
from mmcyclic.datasets.io import write_image
from mmcyclic.datasets.synthetic import generate_synthetic_he
from mmcyclic.evaluation.stitching import stitch_predictions_with_scores
from mmcyclic.utils.config import ConfigError, load_config

from apis_helpers import R18_CONFIG


@pytest.fixture(scope='module')
def segmenter() -> NucleiSegmenter:
    torch.manual_seed(0)
    # min_area=1: every stitched instance of the (random) model is kept, to compare exactly.
    return NucleiSegmenter(R18_CONFIG, tile_size=96, overlap=32, batch_size=4, score_thr=0.5,
                           min_area=1)


@pytest.fixture(scope='module')
def image() -> np.ndarray:
    return generate_synthetic_he(1, size=160, seed=3)[0][0]


def test_settings_come_from_arguments_then_config_then_defaults():
    cfg = Config(dict(inference=dict(tile_size=512, score_thr=0.3)))
    assert dataclasses.asdict(InferenceSettings.resolve(Config())) == DEFAULT_SETTINGS
    settings = InferenceSettings.resolve(cfg, overlap=80, score_thr=None)
    assert (settings.tile_size, settings.overlap, settings.batch_size, settings.score_thr) == (
        512, 80, DEFAULT_SETTINGS['batch_size'], 0.3)
    with pytest.raises(ValueError, match=r"my\.py: unknown key\(s\) \['tile'\]"):
        InferenceSettings.resolve(Config(dict(inference=dict(tile=128))), 'my.py')
    with pytest.raises(ValueError, match='overlap'):
        InferenceSettings.resolve(cfg, overlap=512)
    with pytest.raises(ValueError, match='score_thr'):
        InferenceSettings.resolve(cfg, score_thr=1.5)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match='nope.py'):
        NucleiSegmenter(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        NucleiSegmenter(R18_CONFIG, tmp_path / 'missing.pth')


def test_tiles_reach_the_model_as_mmdet_inference_does(segmenter, image):
    """A batch of RGB tiles gives exactly what mmdet's inference_detector gives per BGR crop."""
    from mmdet.apis import inference_detector
    windows = [(0, 0, 96, 96), (64, 40, 160, 136)]
    tiles = [Tile(image[y0:y1, x0:x1], (y0, x0, y1, x1)) for y0, x0, y1, x1 in windows]
    assert segmenter._pastes_into_boxes  # masks are pasted into their boxes, not full tiles
    batched = segmenter.predict_tiles(tiles)
    for tile, found in zip(tiles, batched):
        reference = inference_detector(segmenter.model, np.ascontiguousarray(tile.image[..., ::-1]))
        keep = reference.pred_instances.scores >= 0.5
        masks = np.zeros((len(found.crops), 96, 96), bool)
        for mask, crop, (y, x) in zip(masks, found.crops, found.origins):
            assert crop.dtype == bool
            mask[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
        assert len(found.scores) > 0
        np.testing.assert_allclose(found.scores, reference.pred_instances.scores[keep].numpy(),
                                   atol=1e-5)
        np.testing.assert_array_equal(masks, reference.pred_instances.masks[keep].numpy())


@pytest.fixture(scope='module')
def recorded(segmenter, image):
    """segment() on the image, plus what the model returned for each tile."""
    calls, progress = [], []
    predict = segmenter.predict_tiles

    def recording(tiles):
        outputs = predict(tiles)
        calls.extend(zip([t.window for t in tiles], outputs))
        return outputs

    segmenter.predict_tiles = recording
    try:
        result = segmenter.segment(image, on_tile=lambda *args: progress.append(args))
    finally:
        del segmenter.predict_tiles
    return result, calls, progress


def test_segment_stitches_the_model_instances_in_image_coordinates(recorded):
    result, calls, progress = recorded
    assert isinstance(result, NucleiResult)
    assert [window for window, _ in calls] == tile_windows(160, 160, 96, 32)
    assert progress == [(4, 4)]  # one batch of four tiles
    predictions = []
    for window, found in calls:
        predictions += found.in_image(window, 0.0)
    labels, scores = stitch_predictions_with_scores(predictions, (160, 160), whole_first=True)
    np.testing.assert_array_equal(result.label_map, labels)
    np.testing.assert_array_equal(result.scores, scores)
    assert len(result) == result.label_map.max() > 0 and np.all(result.scores >= 0.5)


def test_segment_reads_files(tmp_path, segmenter, image, recorded):
    write_image(tmp_path / 'image.png', image)
    from_file = segmenter.segment(tmp_path / 'image.png')
    np.testing.assert_array_equal(from_file.label_map, recorded[0].label_map)


def test_low_scoring_boxes_get_no_mask(segmenter):
    """The detector itself drops boxes under score_thr (the config keeps them down to 0.05)."""
    assert Config.fromfile(R18_CONFIG).model.test_cfg.rcnn.score_thr == 0.05
    assert segmenter.model.roi_head.test_cfg.score_thr == segmenter.settings.score_thr == 0.5


def test_caps_grow_with_the_tile_area():
    """A 512 px tile holds 4x the nuclei of the 256 px patches the config's caps are sized for."""
    config = Config.fromfile(R18_CONFIG)
    big = NucleiSegmenter(config, tile_size=512, caps_tile_size=256)
    rpn, rcnn = config.model.test_cfg.rpn, config.model.test_cfg.rcnn
    assert big.model.rpn_head.test_cfg.nms_pre == 4 * rpn.nms_pre
    assert big.model.rpn_head.test_cfg.max_per_img == 4 * rpn.max_per_img
    assert big.model.roi_head.test_cfg.max_per_img == 4 * rcnn.max_per_img
    small = NucleiSegmenter(config, tile_size=128, caps_tile_size=256)  # never below the config
    assert small.model.roi_head.test_cfg.max_per_img == rcnn.max_per_img


def test_checkpoint_must_fit_the_model(tmp_path, segmenter):
    """Weights that do not fit are an error naming the file, not a model predicting noise."""
    state = {k: v.clone() for k, v in segmenter.model.state_dict().items()}
    torch.save({'state_dict': state, 'meta': {'dataset_meta': {'classes': ('nucleus', )}}},
               tmp_path / 'good.pth')
    loaded = NucleiSegmenter(R18_CONFIG, tmp_path / 'good.pth', tile_size=96, overlap=32)
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, state[name])
    assert loaded.model.dataset_meta == {'classes': ('nucleus', )}
    name = next(k for k in state if k.endswith('downsample.1.weight'))
    state[name] = state[name].reshape(-1)[:1]  # e.g. a checkpoint of another backbone variant
    torch.save({'state_dict': state}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match=r'other\.pth: its weights do not fit .*size mismatch'):
        NucleiSegmenter(R18_CONFIG, tmp_path / 'other.pth')


def test_models_without_box_pasting_give_the_same_instances(segmenter, image, monkeypatch):
    """Other instance models (e.g. later HoVer-Net heads) go through test_step and full-tile
    masks; for Mask R-CNN both paths must return the same crops, origins and scores."""
    tiles = [Tile(image[:96, :96], (0, 0, 96, 96)), Tile(image[64:, 64:], (64, 64, 160, 160))]
    pasted = segmenter.predict_tiles(tiles)
    monkeypatch.setattr(type(segmenter), '_pastes_into_boxes', property(lambda self: False))
    generic = segmenter.predict_tiles(tiles)
    for fast, slow in zip(pasted, generic):
        nonempty = [i for i, crop in enumerate(fast.crops) if crop.any()]
        assert len(nonempty) == len(slow.crops) > 0
        for i, crop, origin in zip(nonempty, slow.crops, slow.origins):
            # the box crop may have empty margins; compare the occupied part
            rows, cols = np.nonzero(fast.crops[i])
            np.testing.assert_array_equal(
                fast.crops[i][rows.min():rows.max() + 1, cols.min():cols.max() + 1], crop)
            np.testing.assert_array_equal(fast.origins[i] + (rows.min(), cols.min()), origin)
        np.testing.assert_allclose(fast.scores[nonempty], slow.scores, atol=1e-6)


WEAK_CONFIG = R18_CONFIG.parent / 'cyclic_r18_monu.py'


def test_score_thr_defaults_to_the_test_evaluators():
    """Item 7 of issue 19: inference kept >= 0.5 while the weak configs test at >= 0.05."""
    weak = load_config(str(WEAK_CONFIG))
    assert weak.test_evaluator.score_thr == 0.05  # configs/_base_/weak_supervision.py
    assert InferenceSettings.resolve(weak).score_thr == 0.05
    assert InferenceSettings.resolve(weak, score_thr=0.7).score_thr == 0.7  # argument wins
    assert InferenceSettings.resolve(load_config(str(R18_CONFIG))).score_thr == 0.5
    listed = Config(dict(test_evaluator=[dict(type='CocoMetric'),
                                         dict(type='NucleiMetric', score_thr=0.2)]))
    assert InferenceSettings.resolve(listed).score_thr == 0.2
    listed.inference = dict(score_thr=0.3)  # an explicit inference block wins
    assert InferenceSettings.resolve(listed).score_thr == 0.3


def test_weak_config_model_finds_its_low_scoring_nuclei(tmp_path, image):
    """Item 7 of issue 19: a student of the weak configs scores its nuclei below 0.5, and
    NucleiSegmenter(config, checkpoint) found none of them."""
    torch.manual_seed(0)
    student = NucleiSegmenter(WEAK_CONFIG, tile_size=96, overlap=32).model
    with torch.no_grad():  # foreground probability about 0.2, like the sparse-label students
        student.roi_head.bbox_head.fc_cls.bias[0] -= 1.5
    torch.save({'state_dict': student.state_dict(), 'meta': {}}, tmp_path / 'best_student.pth')
    segmenter = NucleiSegmenter(WEAK_CONFIG, tmp_path / 'best_student.pth', tile_size=96,
                                overlap=32)
    assert segmenter.settings.score_thr == 0.05
    result = segmenter.segment(image)
    assert len(result) > 0 and result.scores.max() < 0.5
    assert 0.05 <= segmenter.highest_score < 0.5
    strict = NucleiSegmenter(WEAK_CONFIG, tmp_path / 'best_student.pth', tile_size=96,
                             overlap=32, score_thr=0.5)
    assert len(strict.segment(image)) == 0  # what the documented path returned before
    assert strict.highest_score == segmenter.highest_score  # the score was still seen


def test_min_area_comes_from_the_dataset_config_and_drops_a_one_pixel_nucleus(monkeypatch):
    """Issue 27 item 11: a 1x1 image yielded a 1-pixel "nucleus"; the synthetic dataset's
    smallest ground-truth nucleus is 56 px, its config drops predictions under 50."""
    segmenter = NucleiSegmenter(R18_CONFIG)
    assert segmenter.settings.min_area == 50
    assert segmenter.settings.max_pixels == 100_000_000

    def everything_is_a_nucleus(tiles):
        return [(np.ones((1, *t.image.shape[:2]), bool), np.array([0.99])) for t in tiles]

    monkeypatch.setattr(segmenter, 'predict_tiles', everything_is_a_nucleus)
    result = segmenter.segment(np.zeros((1, 1, 3), np.uint8))
    assert len(result) == 0 and result.dropped_below_min_area == 1
    assert len(segmenter.segment(np.zeros((10, 10, 3), np.uint8))) == 1  # 100 px: kept
