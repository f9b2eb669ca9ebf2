"""HoVer-Net back-end: targets, losses, label sets, post-processing and every path that reads
its predictions (metric, pseudo labels, tiled inference, GeoJSON). Tiny models, tiny inputs."""
import copy

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmcyclic  # noqa: F401
from mmcyclic.models.hovernet.losses import hv_gradients, weighted_cross_entropy
from mmcyclic.models.hovernet.post_process import hovernet_label_map
from mmcyclic.models.hovernet.targets import hover_targets

from cyclic_test_utils import REPO

CONFIGS = REPO / 'configs'
TINY_HEAD = dict(feat_channels=(8, 8, 8), stage_channels=(8, 8), dense_units=(1, 1), bottleneck=8,
                 growth=4, groups=4, out_channels=8, full_res_channels=(4, 8))
LOSS_KEYS = {'loss_np_ce', 'loss_np_dice', 'loss_hv_mse', 'loss_hv_msge'}


def _cfg(config='_base_/models/hovernet_r18.py', **model):
    """A config's model shrunk for tests: ResNet-18 of 8 base channels, a tiny decoder."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(CONFIGS / config)).model
    cfg.backbone.update(stem_channels=8, base_channels=8)
    cfg.head.update(TINY_HEAD)
    cfg.merge(model)
    return cfg


def _build(cfg) -> torch.nn.Module:
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _disc(shape, centre, radius) -> np.ndarray:
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (rows - centre[0])**2 + (cols - centre[1])**2 <= radius**2


def _two_touching_discs(shape=(64, 64)) -> np.ndarray:
    """Two discs of radius 9 whose borders touch (one pixel in common): one NP blob."""
    return np.stack([_disc(shape, (32, 23), 9), _disc(shape, (32, 41), 9)])


def _maps(masks: np.ndarray, batch: int = 1):
    """What a perfect network would output for ``masks``: NP probability and HV maps."""
    np_target, hv = hover_targets(torch.from_numpy(masks))
    prob = torch.where(np_target > 0, 0.95, 0.02).float()
    return dict(np=prob.expand(batch, -1, -1).clone(), hv=hv.expand(batch, -1, -1, -1).clone())


def _sample(masks: np.ndarray, labels=None, shape=None) -> DetDataSample:
    shape = shape or masks.shape[1:]
    sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                                         batch_input_shape=shape, scale_factor=(1., 1.)))
    n = len(masks)
    sample.gt_instances = InstanceData(
        masks=BitmapMasks(masks.astype(np.uint8), *masks.shape[1:]),
        bboxes=torch.tensor([_box(m) for m in masks], dtype=torch.float32).reshape(-1, 4),
        labels=torch.as_tensor(labels if labels is not None else [0] * n, dtype=torch.long))
    return sample


def _box(mask: np.ndarray):
    rows, cols = np.nonzero(mask)
    return [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


# --- targets -----------------------------------------------------------------------------

def test_disc_targets_centre_zero_extremes_one_background_zero():
    disc = _disc((32, 32), (15, 12), 8)
    tiny = _disc((32, 32), (2, 29), 2)  # 13 px: nuclear, but no HV target (< 30 px)
    np_target, hv = hover_targets(torch.from_numpy(np.stack([disc, tiny])))
    np.testing.assert_array_equal(np_target.numpy(), disc | tiny)
    x, y = hv[0].numpy(), hv[1].numpy()
    assert x[15, 12] == 0 and y[15, 12] == 0                        # centre of mass
    assert x[15, 4] == -1 and x[15, 20] == 1                        # left / right extremes
    assert y[7, 12] == -1 and y[23, 12] == 1                        # top / bottom extremes
    assert x[15, 8] == pytest.approx(-0.5) and y[19, 12] == pytest.approx(0.5)
    assert not x[~disc].any() and not y[~disc].any()                # background and tiny one
    assert (x[:, 13:][disc[:, 13:]] > 0).all() and (y[:13][disc[:13]] < 0).all()


def test_each_side_is_normalised_on_its_own():
    """An off-centre shape: the short side still reaches −1 (official normalisation)."""
    mask = np.zeros((1, 8, 40), bool)
    mask[0, 2:6, 2:38] = True
    mask[0, 0:8, 30:38] = True  # heavy right end: centre of mass right of the middle
    _, hv = hover_targets(torch.from_numpy(mask))
    row = hv[0, 3].numpy()
    assert row[2] == -1 and row[37] == 1
    centre = int(np.argmin(np.abs(row[2:38]))) + 2
    assert centre > 20 and row[centre] == 0


# --- losses ------------------------------------------------------------------------------

@pytest.mark.parametrize('cross', [False, True])
def test_msge_gradients_on_ramps(cross):
    """∂HV_x/∂x and ∂HV_y/∂y by default; the official code's cross terms with the flag."""
    cols = torch.arange(12.).expand(12, 12)
    x_ramp = torch.stack([cols, torch.zeros(12, 12)])[None]      # HV_x grows along x
    y_ramp = torch.stack([cols.T, torch.zeros(12, 12)])[None]    # HV_x grows along y
    inner = (slice(None), slice(None), slice(3, -3), slice(3, -3))
    along_x = hv_gradients(x_ramp, cross)[inner]
    along_y = hv_gradients(y_ramp, cross)[inner]
    if cross:
        assert torch.allclose(along_x[:, 0], torch.tensor(0.), atol=1e-5)
        assert (along_y[:, 0] > 1).all()
    else:
        assert (along_x[:, 0] > 1).all()
        assert torch.allclose(along_y[:, 0], torch.tensor(0.), atol=1e-5)
    assert torch.allclose(along_x[:, 1], torch.tensor(0.), atol=1e-5)     # channel 1 is flat


def test_zero_weight_pixels_do_not_count():
    torch.manual_seed(0)
    logits, target = torch.randn(1, 2, 4, 4), torch.randint(0, 2, (1, 4, 4))
    weight = torch.ones(1, 4, 4)
    weight[0, :2] = 0
    changed = logits.clone()
    changed[..., :2, :] = torch.randn(1, 2, 2, 4) * 10
    assert weighted_cross_entropy(logits, target, weight) == weighted_cross_entropy(
        changed, target, weight)
    assert weighted_cross_entropy(logits, target, torch.ones(1, 4, 4)) != \
        weighted_cross_entropy(changed, target, torch.ones(1, 4, 4))


def test_a_train_step_lowers_the_loss():
    model = _build(_cfg())
    disc = _disc((32, 32), (15, 16), 9)[None]
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2,
                data_samples=[_sample(disc), _sample(np.zeros((0, 32, 32), bool))])
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    losses = [model.train_step(copy.deepcopy(data), optim) for _ in range(6)]
    assert set(losses[0]) == LOSS_KEYS | {'loss'}
    assert losses[0]['loss_hv_msge'] < 10  # small output init: no MSGE of noise to start with
    assert losses[-1]['loss'] < 0.85 * losses[0]['loss']


# --- label sets --------------------------------------------------------------------------

def _label_set_model(weights=(0.66, 0.34), ignore_other_sets=True, stain_prior=None):
    return _build(_cfg(type='LabelSetHoVerNet', label_set_weights=weights,
                       ignore_other_sets=ignore_other_sets,
                       train_cfg=dict(ignore_unlabelled_stain_blobs=stain_prior)))


def test_label_sets_run_the_backbone_once_and_weigh_the_sets():
    model = _label_set_model()
    masks = _two_touching_discs()
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)],
        data_samples=[_sample(masks, labels=[0, 1])]), training=True)
    calls = []
    model.backbone.register_forward_hook(lambda *args: calls.append(1))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert len(calls) == 1
    assert LOSS_KEYS <= set(losses) and {'M_total', 'M_prime_total'} <= set(losses)
    expected = 0.66 * losses['M_total'] + 0.34 * losses['M_prime_total']
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.allclose(total.detach(), expected, rtol=1e-5)


@pytest.mark.parametrize('source', ['other_set', 'stain_blob', 'literal_eq2'])
def test_a_nucleus_not_in_the_set_gives_no_np_loss(source, monkeypatch):
    """The NP loss of set M does not change with what the network says on the pixels of a
    nucleus of M′ (or of an unlabelled stain blob); with Eq. (2) literally it does."""
    masks = _two_touching_discs()
    if source == 'stain_blob':
        model = _label_set_model((1.0, 0.0), stain_prior=dict(min_area=30, max_area=2000))
        monkeypatch.setattr(type(model), 'unlabelled_stain_blobs',
                            lambda self, inputs, samples: [torch.tensor([_box(masks[1])])])
        sample = _sample(masks[:1])
    else:
        model = _label_set_model((1.0, 0.0), ignore_other_sets=source == 'other_set')
        sample = _sample(masks, labels=[0, 1])
    outputs = {}
    monkeypatch.setattr(type(model.head), 'forward', lambda self, feats: outputs)
    inputs = torch.zeros(1, 3, 64, 64)

    def np_loss(foreground_logit):
        logits = torch.zeros(1, 2, 64, 64)
        logits[0, 1][torch.from_numpy(masks[1] & ~masks[0])] = foreground_logit
        outputs.update(np=logits, hv=torch.zeros(1, 2, 64, 64))
        losses = model.loss(inputs, [sample])
        return float(losses['loss_np_ce']), float(losses['loss_np_dice'])

    same = np_loss(-5.0) == pytest.approx(np_loss(5.0))
    assert same == (source != 'literal_eq2')


# --- post-processing and predictions -----------------------------------------------------

def test_watershed_splits_two_touching_discs():
    masks = _two_touching_discs()
    maps = _maps(masks)
    labels = hovernet_label_map(maps['np'][0].numpy(), maps['hv'][0].numpy())
    assert labels.max() == 2
    for k, disc in zip((1, 2), masks):  # each instance is one disc (up to the shared pixel)
        assert np.count_nonzero((labels == k) ^ disc) <= 1


def test_predict_returns_instances_at_the_original_shape(monkeypatch):
    """Padding removed (img_shape < the batch), rescaled to ori_shape; mask-derived boxes,
    scores = mean NP probability, labels 0."""
    model = _build(_cfg()).eval()
    masks = _two_touching_discs()
    monkeypatch.setattr(type(model.head), 'predict_maps', lambda self, feats: _maps(masks, 2))
    small = DetDataSample(metainfo=dict(img_shape=(64, 60), ori_shape=(64, 60)))
    large = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(128, 128)))
    results = model.predict(torch.zeros(2, 3, 64, 64), [small, large])
    first = results[0].pred_instances
    assert first.masks.dtype == torch.bool and first.masks.shape == (2, 64, 60)
    # the pixel the discs share goes to one of them: boxes within a pixel of the discs'
    np.testing.assert_allclose(first.bboxes.numpy(), [_box(m) for m in masks], atol=1)
    np.testing.assert_array_equal(first.bboxes[0].numpy(), _box(first.masks[0].numpy()))
    assert torch.allclose(first.scores, torch.tensor([0.95, 0.95]))
    assert first.labels.tolist() == [0, 0]
    second = results[1].pred_instances
    assert second.masks.shape == (2, 128, 128)
    assert abs(int(second.masks[0].sum()) - 4 * int(masks[0].sum())) < 0.1 * 4 * masks[0].sum()


def test_type_branch_trains_and_labels_instances_by_majority(monkeypatch):
    model = _build(_cfg(head=dict(num_types=2))).train()
    masks = _two_touching_discs()
    data = model.data_preprocessor(dict(
        inputs=[torch.zeros((3, 64, 64), dtype=torch.uint8)],
        data_samples=[_sample(masks, labels=[0, 1])]), training=True)
    assert {'loss_tp_ce', 'loss_tp_dice'} <= set(model.loss(data['inputs'], data['data_samples']))
    maps = _maps(masks)
    tp = torch.zeros(1, 3, 64, 64)
    tp[0, 1][torch.from_numpy(masks[0])] = 1  # disc 0 is type 0
    tp[0, 2][torch.from_numpy(masks[1] & ~masks[0])] = 1  # disc 1 is type 1
    monkeypatch.setattr(type(model.head), 'predict_maps', lambda self, feats: dict(maps, tp=tp))
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
    assert model.eval().predict(torch.zeros(1, 3, 64, 64), [sample])[0] \
        .pred_instances.labels.tolist() == [0, 1]


def test_predictions_feed_the_metric_and_the_pseudo_labels(monkeypatch, tmp_path):
    """NucleiMetric and self-training's M′ (predict_whole_images) read HoVerNet's output."""
    from mmcyclic.datasets.io import write_label_map
    from mmcyclic.engine.pseudo_labels import predict_whole_images
    from mmcyclic.evaluation import NucleiMetric
    model = _build(_cfg()).eval()
    masks = _two_touching_discs()
    monkeypatch.setattr(type(model.head), 'predict_maps', lambda self, feats: _maps(masks))
    gt = masks[0] * 1 + (masks[1] & ~masks[0]) * 2
    write_label_map(tmp_path / 'gt.png', gt.astype(np.int32))
    meta = dict(img_id=0, img_shape=(64, 64), ori_shape=(64, 64), source_id='a',
                source_shape=(64, 64), patch_origin=(0, 0), label_map_path=str(tmp_path / 'gt.png'))
    batch = dict(inputs=[torch.zeros((3, 64, 64), dtype=torch.uint8)],
                 data_samples=[DetDataSample(metainfo=meta)])

    metric = NucleiMetric(score_thr=0.5, out_dir=str(tmp_path / 'out'))
    metric.dataset_meta = {}
    metric.process({}, [s.to_dict() for s in model.val_step(copy.deepcopy(batch))])
    scores = metric.compute_metrics(metric.results)
    assert scores['aji'] > 0.99 and scores['pq'] > 0.99

    label_map, instance_scores = predict_whole_images(model, [batch], score_thr=0.5)['a']
    assert label_map.max() == 2 and np.allclose(instance_scores, 0.95)


def test_tiled_inference_and_geojson(monkeypatch, tmp_path):
    """NucleiSegmenter (generic test_step path) and the GeoJSON export on a HoVerNet config."""
    from mmcyclic.apis import NucleiSegmenter
    cfg = Config.fromfile(
        str(CONFIGS / 'reproduce' / 'sparse_labels' / 'full_supervision_hovernet.py'))
    cfg.model = _cfg('reproduce/sparse_labels/full_supervision_hovernet.py')
    segmenter = NucleiSegmenter(cfg, tile_size=64, overlap=32, batch_size=2)
    discs = _two_touching_discs()

    def tile_maps(self, feats):  # the two discs wherever a tile holds the image's centre
        return _maps(discs, feats[0].shape[0])

    monkeypatch.setattr(type(segmenter.model.head), 'predict_maps', tile_maps)
    image = np.zeros((64, 64, 3), np.uint8)
    result = segmenter.segment(image)
    assert len(result) == 2 and np.allclose(result.scores, 0.95)
    features = result.to_geojson()['features']
    assert len(features) == 2 and features[0]['geometry']['type'] == 'Polygon'


# --- configs and errors -------------------------------------------------------------------

NEW_CONFIGS = ['hovernet_r50_monu.py', 'cyclic_hovernet_r50_monu.py',
               'cyclic_hovernet_swin_monu.py',
               'reproduce/sparse_labels/full_supervision_hovernet.py',
               'reproduce/sparse_labels/lrp_default_seeds_stain_prior_hovernet.py']


@pytest.mark.parametrize('config', NEW_CONFIGS)
def test_new_configs_build(config):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(CONFIGS / config))
    weak = 'cyclic' in config or 'seeds' in config
    assert cfg.model.type == ('LabelSetHoVerNet' if weak else 'HoVerNet')
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__module__.startswith('mmpretrain')
    assert len(model.head.laterals) == 4
    if weak:
        assert model.ignore_other_sets and model.train_cfg['ignore_unlabelled_stain_blobs']


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match='model.test_cfg'):
        _build(_cfg(test_cfg=dict(marker_threshold=0.4)))
    with pytest.raises(ValueError, match='head.loss_weights'):
        _build(_cfg(head=dict(loss_weights=dict(np_bce=1.0))))
    with pytest.raises(ValueError, match="head.upsample"):
        _build(_cfg(head=dict(upsample='nearest')))
    with pytest.raises(ValueError, match='train_dataloader.dataset.pipeline'):
        model = _build(_cfg())
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64)))
        sample.gt_instances = InstanceData(labels=torch.zeros(0, dtype=torch.long))
        model.loss(torch.zeros(1, 3, 64, 64), [sample])


def test_bilinear_upsampling_gives_input_resolution():
    model = _build(_cfg(head=dict(upsample='bilinear')))
    assert len(model.head.stem) == 0
    outputs = model(torch.zeros(1, 3, 64, 96), mode='tensor')
    assert outputs['np'].shape == (1, 2, 64, 96) and outputs['hv'].shape == (1, 2, 64, 96)


@pytest.mark.parametrize('config', [
    'cyclic_hovernet_r50_monu.py', 'cyclic_hovernet_swin_monu.py',
    'reproduce/sparse_labels/lrp_default_seeds_stain_prior_hovernet.py'])
def test_weak_hovernet_configs_lower_the_np_threshold_and_full_ones_keep_the_official(config):
    """Sparse labels cap the NP probability below 0.5 (docs/results.md): weak configs use 0.2."""
    weak = Config.fromfile(str(REPO / 'configs' / config)).model.test_cfg
    full = Config.fromfile(str(REPO / 'configs' / 'hovernet_r50_monu.py')).model.test_cfg
    assert weak.np_thr == 0.2 and full.np_thr == 0.5
    assert {k: v for k, v in weak.items() if k != 'np_thr'} == {
        k: v for k, v in full.items() if k != 'np_thr'}
