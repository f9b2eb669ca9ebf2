"""KG Instance as a back-end: build, train step, label sets, predict and the project's paths
(evaluation, pseudo labels, tiled inference, GeoJSON), with a ResNet-18 and tiny inputs."""
import copy

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmcyclic  # noqa: F401
from mmcyclic.models import KGInstance, LabelSetKGInstance, select_label_set
from mmcyclic.models.kg_instance.targets import keypoint_targets

from cyclic_test_utils import REPO

KG_R18 = REPO / 'configs' / '_base_' / 'models' / 'kg_instance_r18.py'
BOXES = [[8., 8, 32, 30], [40, 10, 62, 36], [12, 40, 40, 62], [44, 44, 70, 68]]


def _model(**overrides) -> KGInstance:
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(KG_R18))
    cfg.merge_from_dict(dict(model=overrides))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _sample(size, boxes, labels=None, img_shape=None) -> DetDataSample:
    """A sample with elliptical nuclei filling ``boxes`` (labels = label-set indices)."""
    rows, cols = np.mgrid[:size, :size]
    masks = []
    for x1, y1, x2, y2 in boxes:
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        masks.append((((cols + 0.5 - cx) / rx)**2 + ((rows + 0.5 - cy) / ry)**2 <= 1))
    shape = img_shape or (size, size)
    sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=(size, size),
                                         scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels if labels is not None else [0] * len(boxes)),
        masks=BitmapMasks(np.array(masks, np.uint8).reshape(-1, size, size), size, size))
    return sample


def _batch(size=96, boxes=(BOXES, BOXES[:2]), labels=None):
    torch.manual_seed(1)
    samples = [_sample(size, b, None if labels is None else labels[i])
               for i, b in enumerate(boxes)]
    inputs = torch.randn(len(samples), 3, size, size)
    return inputs, samples


def _perfect_heads(model, boxes, monkeypatch):
    """Make the keypoint heads output their targets for ``boxes`` (every image)."""
    def forward(feats):
        outputs = []
        for stride, x in zip(model.kp_head.strides, feats):
            t = keypoint_targets(torch.tensor(boxes), stride, tuple(x.shape[-2:]), 5.0, 11.0)
            n = len(x)
            outputs.append(((t['heatmap'] * 20 - 10).expand(n, -1, -1, -1),
                            t['short'].expand(n, -1, -1, -1), t['mid'].expand(n, -1, -1, -1)))
        return outputs
    monkeypatch.setattr(model.kp_head, 'forward', forward)
    with torch.no_grad():  # masks fill their boxes
        model.mask_head.conv_logits.bias.fill_(8.0)


def test_backbone_is_the_classifier_module_with_every_stage_used():
    model = _model()
    assert type(model.backbone).__module__.startswith('mmpretrain')
    assert model.backbone.out_indices == (0, 1, 2, 3)
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    model.parse_losses(losses)[0].backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert not unused  # DDP needs no find_unused_parameters
    assert set(losses) >= {'loss_kp', 'loss_short', 'loss_mid', 'loss_mask'}


@pytest.mark.slow  # about 10 s on 2 CPU cores (tens of seconds when they are shared)
def test_a_train_step_lowers_the_loss():
    model = _model().train()
    inputs, samples = _batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    totals = []
    for _ in range(6):
        optimizer.zero_grad()
        total = model.parse_losses(model.loss(inputs, samples))[0]
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < 0.8 * totals[0], totals


def test_a_batch_without_boxes_trains():
    """The official code crashes here (no mask loss); here the heatmaps learn background."""
    model = _model().train()
    inputs, samples = _batch(boxes=([], []))
    losses = model.loss(inputs, samples)
    total = model.parse_losses(losses)[0]
    assert torch.isfinite(total) and losses['loss_kp'] > 0
    assert losses['loss_short'] == 0 and losses['loss_mask'] == 0
    total.backward()
    assert model.kp_head.heads[0]['kp'][-1].bias.grad.abs().sum() > 0


def test_label_sets_one_backbone_pass_alpha_weighted():
    model = _model(type='LabelSetKGInstance', label_set_weights=(0.66, 0.34)).train()
    inputs, samples = _batch(labels=([0, 1, 0, 1], [1, 0]))
    calls = []
    model.backbone.register_forward_hook(lambda *args: calls.append(1))
    combined = model.parse_losses(model.loss(inputs, samples))[0]
    assert len(calls) == 1
    feats = model.extract_feat(inputs)
    per_set = [model.parse_losses(model.loss_from_features(
        feats, select_label_set(samples, k, ignore_other_sets=True)))[0] for k in (0, 1)]
    torch.testing.assert_close(combined, 0.66 * per_set[0] + 0.34 * per_set[1])


def test_the_other_set_s_nuclei_are_not_heatmap_negatives():
    """With ignore_other_sets the heatmap loss of set M has no gradient on M' corners."""
    model = _model()
    _, samples = _batch(labels=([0, 1, 0, 1], [1, 0]))
    own = select_label_set(samples, 0, ignore_other_sets=True)
    literal = select_label_set(samples, 0, ignore_other_sets=False)
    gradients = []
    for chosen in (own, literal):
        logits = torch.zeros(2, 5, 96, 96, requires_grad=True)
        outputs = [(logits, torch.zeros(2, 10, 96, 96), torch.zeros(2, 40, 96, 96))]
        head = copy.copy(model.kp_head)
        head.strides = (1, )
        head.loss(outputs, chosen, (96, 96))['loss_kp'].backward()
        gradients.append(logits.grad)
    x1, y1 = int(BOXES[1][0]), int(BOXES[1][1])  # top-left corner of an M' nucleus
    assert gradients[0][0, 0, y1 - 2:y1 + 2, x1 - 2:x1 + 2].abs().max() == 0
    assert gradients[1][0, 0, y1 - 2:y1 + 2, x1 - 2:x1 + 2].abs().max() > 0
    x1, y1 = int(BOXES[0][0]), int(BOXES[0][1])  # own nucleus: trained in both
    assert gradients[0][0, 0, y1, x1] != 0


def test_predict_returns_instances_at_the_original_shape(monkeypatch):
    """masks bool at ori_shape (padding removed), bboxes xyxy, scores in [0, 1], labels 0."""
    model = _model().eval()
    _perfect_heads(model, BOXES, monkeypatch)
    sample = _sample(96, BOXES, img_shape=(90, 80))  # padded to 96 by the preprocessor
    with torch.no_grad():
        result = model.predict(torch.zeros(1, 3, 96, 96), [sample])[0].pred_instances
    assert result.masks.dtype == torch.bool and result.masks.shape == (4, 90, 80)
    assert result.labels.tolist() == [0] * 4
    assert ((result.scores > 0.9) & (result.scores <= 1)).all()
    found = sorted(result.bboxes.tolist())
    for box, expected in zip(found, sorted(BOXES)):
        np.testing.assert_allclose(box, np.minimum(expected, [80, 90, 80, 90]), atol=1.0)
    assert result.masks.any(dim=(1, 2)).all()


def test_evaluation_pseudo_labels_tiled_inference_and_geojson_take_its_output(monkeypatch):
    from mmcyclic.apis import NucleiSegmenter
    from mmcyclic.engine.pseudo_labels import predict_whole_images
    from mmcyclic.evaluation.metrics.nuclei_metric import tile_predictions_from_sample

    row = REPO / 'configs' / 'reproduce' / 'sparse_labels' / 'full_supervision_kg_instance.py'
    cfg = Config.fromfile(str(row))
    segmenter = NucleiSegmenter(cfg, tile_size=96, overlap=0, batch_size=1, score_thr=0.5)
    model = segmenter.model
    _perfect_heads(model, BOXES, monkeypatch)

    result = segmenter.segment(np.zeros((96, 96, 3), np.uint8))  # one tile: tiled inference
    assert len(result.scores) == 4 and (result.scores > 0.9).all()
    assert len(result.to_geojson()['features']) == 4  # GeoJSON export

    sample = _sample(96, BOXES)
    sample.set_metainfo(dict(source_id='img', source_shape=(96, 96), patch_origin=(0, 0)))
    batch = dict(inputs=[torch.zeros(3, 96, 96, dtype=torch.uint8)], data_samples=[sample])
    predicted = model.val_step(copy.deepcopy(batch))[0].to_dict()
    assert len(tile_predictions_from_sample(predicted, 0.5)) == 4  # evaluation (NucleiMetric)
    label_map, scores = predict_whole_images(model, [batch], score_thr=0.5)['img']  # M'
    assert label_map.max() == 4 and len(scores) == 4


@pytest.mark.parametrize('config', [
    'kg_instance_r50_monu.py', 'cyclic_kg_instance_r50_monu.py',
    'reproduce/sparse_labels/full_supervision_kg_instance.py',
    'reproduce/sparse_labels/lrp_default_seeds_stain_prior_kg_instance.py'])
def test_configs_build(config):
    cfg = Config.fromfile(str(REPO / 'configs' / config))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    weak = 'cyclic' in config or 'seeds' in config
    assert type(model) is (LabelSetKGInstance if weak else KGInstance)
    if weak:
        assert model.label_set_weights == (0.66, 0.34)
    assert bool(model.train_cfg.get('ignore_unlabelled_stain_blobs')) == weak


@pytest.mark.parametrize('row,twin', [
    ('full_supervision_kg_instance.py', 'full_supervision.py'),
    ('lrp_default_seeds_stain_prior_kg_instance.py', 'lrp_default_seeds_stain_prior.py')])
def test_budget_rows_differ_from_their_mask_rcnn_twin_in_model_and_optimiser_only(row, twin):
    folder = REPO / 'configs' / 'reproduce' / 'sparse_labels'
    mine, theirs = Config.fromfile(str(folder / row)), Config.fromfile(str(folder / twin))
    helpers = {'kg_instance_model', 'kg_instance_label_set_model'}
    assert set(mine) - set(theirs) <= helpers
    for key in theirs:
        if key not in ('model', 'optim_wrapper'):
            assert mine[key] == theirs[key], key
    assert mine.model.backbone == theirs.model.backbone
    # The optimiser (KG Instance's own, chosen on validation); clipping and the rest as the twin.
    assert mine.optim_wrapper.optimizer.type == 'Adam'
    assert {k: v for k, v in mine.optim_wrapper.items() if k != 'optimizer'} == {
        k: v for k, v in theirs.optim_wrapper.items() if k != 'optimizer'}


def test_wiring_errors_name_the_config_key():
    with pytest.raises(ValueError, match='kp_head.strides'):
        _model(kp_head=dict(strides=(1, 2, 4, 32)))
    with pytest.raises(ValueError, match=r'kp_head.in_channels .*\(16, 32, 64, 64\)'):
        _model(kp_head=dict(in_channels=(16, 32, 64, 99)))
    with pytest.raises(ValueError, match='mask_head.in_channels 99'):
        _model(mask_head=dict(in_channels=99))
    with pytest.raises(ValueError, match='featmap_strides .*different widths'):
        _model(mask_roi_extractor=dict(featmap_strides=[2, 4]))


def test_input_widths_are_read_off_the_backbone_and_decoder():
    """The paper's widths are one override of the decoder (no in_channels to keep in step)."""
    model = _model(neck=dict(channels=(64, 64, 256, 512, 1024), image_channels=64),
                   kp_head=dict(head_kernel=7))
    assert [c.in_channels for c in model.neck.fuse_convs][2:] == [256 + 64, 512 + 128,
                                                                  1024 + 256]
    assert [h['kp'][0].conv.in_channels for h in model.kp_head.heads] == [64, 64, 256, 512]
    assert model.mask_head.convs[0].conv.in_channels == 64
    model.loss(*_batch())
