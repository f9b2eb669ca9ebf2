"""LabelSetMaskRCNN: Eq. 2 loss with one backbone pass."""
import copy

import pytest
import torch
from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmcyclic  # noqa: F401

from cyclic_test_utils import REPO, as_label_set_model


def _model(weights, ignore_other_sets=False):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'models' /
                              'mask_rcnn_r18_fpn.py')).model
    if ignore_other_sets:
        cfg = as_label_set_model(cfg)
    cfg.type = 'LabelSetMaskRCNN'
    cfg.label_set_weights = weights
    cfg.ignore_other_sets = ignore_other_sets
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def _batch(model):
    torch.manual_seed(1)
    packed = demo_mm_inputs(batch_size=2, image_shapes=[(3, 64, 64)] * 2, num_items=[5, 6],
                            num_classes=2, with_mask=True)
    data = model.data_preprocessor(packed, training=True)
    for sample in data['data_samples']:  # make sure both label sets are present
        labels = sample.gt_instances.labels
        labels[:] = torch.arange(len(labels)) % 2
    return data['inputs'], data['data_samples']


def _total(model, losses):
    return model.parse_losses(losses)[0]


@pytest.mark.parametrize('alpha', [0.66, 1.0])
def test_loss_is_alpha_weighted_sum_and_backbone_runs_once(alpha):
    """The literal Eq. 2 (ignore_other_sets=False): α·(Mask R-CNN on M) + (1−α)·(on M')."""
    from mmcyclic.models.label_set_detector import select_label_set
    model = _model((alpha, 1 - alpha))
    inputs, samples = _batch(model)
    calls = []
    model.backbone.register_forward_hook(lambda *args: calls.append(1))

    torch.manual_seed(0)
    combined = _total(model, model.loss(inputs, samples))
    assert len(calls) == 1

    # Reference: plain Mask R-CNN losses on each set, same random sampling order.
    torch.manual_seed(0)
    loss_m = _total(model, MaskRCNN.loss(model, inputs, select_label_set(samples, 0)))
    loss_m_prime = (_total(model, MaskRCNN.loss(model, inputs, select_label_set(samples, 1)))
                    if alpha < 1 else torch.tensor(0.))
    expected = alpha * loss_m + (1 - alpha) * loss_m_prime
    assert torch.allclose(combined, expected, rtol=1e-5, atol=1e-6), (combined, expected)
    assert loss_m > 0


def test_select_label_set_keeps_only_that_set_with_label_zero():
    from mmcyclic.models.label_set_detector import select_label_set
    model = _model((0.66, 0.34))
    _, samples = _batch(model)
    before = copy.deepcopy([s.gt_instances.labels for s in samples])
    for index in (0, 1):
        for original, picked in zip(before, select_label_set(samples, index)):
            assert len(picked.gt_instances) == int((original == index).sum())
            assert (picked.gt_instances.labels == 0).all()
    assert all(torch.equal(a, s.gt_instances.labels) for a, s in zip(before, samples))


def test_ignored_pixel_mask_fills_ignored_boxes_but_keeps_own_nuclei():
    """Dense back-ends ignore the other sets' boxes, never their own set's pixels."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    from mmcyclic.models import ignored_pixel_mask
    own = torch.zeros((1, 12, 16), dtype=torch.uint8)
    own[0, 2:5, 3:6] = 1  # overlaps the first ignored box
    sample = DetDataSample()
    sample.gt_instances = InstanceData(masks=BitmapMasks(own.numpy(), 12, 16),
                                       labels=torch.zeros(1, dtype=torch.long))
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([[2.0, 1.0, 6.0, 4.0], [10.2, 8.0, 20.0, 14.0]]),
        labels=torch.zeros(2, dtype=torch.long))
    empty = DetDataSample()
    empty.gt_instances = InstanceData(labels=torch.zeros(0, dtype=torch.long))

    mask = ignored_pixel_mask([sample, empty], (12, 16))

    expected = torch.zeros((12, 16), dtype=torch.bool)
    expected[1:4, 2:6] = True
    expected[2:4, 3:6] = False  # the set's own nucleus
    expected[8:12, 10:16] = True  # clipped to the map, box edges rounded outwards
    assert torch.equal(mask[0], expected)
    assert not mask[1].any()

    grown = ignored_pixel_mask([sample], (12, 16), margin=1.0)[0]
    expected_grown = torch.zeros((12, 16), dtype=torch.bool)
    expected_grown[0:5, 1:7] = True
    expected_grown[2:5, 3:6] = False  # the whole own nucleus, now inside the grown box
    expected_grown[7:12, 9:16] = True
    assert torch.equal(grown, expected_grown)


def test_a_back_end_without_its_own_loss_from_features_fails_loudly():
    from mmcyclic.models import LabelSetLossMixin

    class Incomplete(LabelSetLossMixin, torch.nn.Module):
        pass

    with pytest.raises(NotImplementedError, match='Incomplete must implement loss_from_features'):
        Incomplete(label_set_weights=(1.0, 0.0))


def test_the_mixin_does_not_shadow_the_back_ends_own_set_loss():
    """A back-end's loss_from_features is the label-set model's, without a re-route."""
    from mmcyclic.models import HoVerNet, LabelSetHoVerNet, LabelSetMaskRCNN
    assert LabelSetHoVerNet.loss_from_features is HoVerNet.loss_from_features
    assert 'loss_from_features' in vars(LabelSetMaskRCNN)
