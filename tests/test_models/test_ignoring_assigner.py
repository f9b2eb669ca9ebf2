"""Label sets that don't fight: an instance of one set is not a negative of another set's loss.

Each test fails on the code before the rule existed (there, L(M) assigned the RoIs and anchors
on an M' nucleus to background: gt_inds 0).
"""
import pytest
import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmcyclic  # noqa: F401
from mmcyclic.models import select_label_set

from cyclic_test_utils import REPO, as_label_set_model

M_BOX = [4., 4., 24., 24.]           # the one instance of M
M_PRIME_BOX = [36., 36., 56., 56.]   # the one instance of M'
BACKGROUND_BOX = [4., 40., 24., 60.]  # overlaps neither


def _assigner():
    init_default_scope('mmdet')
    return TASK_UTILS.build(dict(type='MaxIoUAssignerWithIgnoredInstances', pos_iou_thr=0.5,
                                 neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=True))


def test_negative_on_an_ignored_instance_is_ignored_and_others_are_unchanged():
    candidates = InstanceData(priors=torch.tensor([
        M_BOX,                   # positive for M
        [37., 37., 57., 57.],    # on the M' instance (IoU 0.82): would be a negative of L(M)
        [46., 46., 66., 66.],    # touches the M' instance at IoU 0.14: still a negative
        BACKGROUND_BOX]))        # true background: still a negative
    gt = InstanceData(bboxes=torch.tensor([M_BOX]), labels=torch.tensor([0]))
    ignored = InstanceData(bboxes=torch.tensor([M_PRIME_BOX]), labels=torch.tensor([0]))
    result = _assigner().assign(candidates, gt, ignored)
    assert result.gt_inds.tolist() == [1, -1, 0, 0]
    # Without ignored instances it is mmdet's MaxIoUAssigner.
    assert _assigner().assign(candidates, gt, None).gt_inds.tolist() == [1, 0, 0, 0]


def _one_image_two_sets():
    """One 64x64 image: one instance in M (label 0) and one in M' (label 1)."""
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
                                         batch_input_shape=(64, 64), scale_factor=(1., 1.)))
    masks = torch.zeros(2, 64, 64, dtype=torch.uint8)
    for k, (x1, y1, x2, y2) in enumerate((M_BOX, M_PRIME_BOX)):
        masks[k, int(y1):int(y2), int(x1):int(x2)] = 1
    sample.gt_instances = InstanceData(bboxes=torch.tensor([M_BOX, M_PRIME_BOX]),
                                       labels=torch.tensor([0, 1]),
                                       masks=BitmapMasks(masks.numpy(), 64, 64))
    return sample


def test_select_label_set_hands_the_other_set_over_as_ignored():
    sample = _one_image_two_sets()
    for index, other_box in ((0, M_PRIME_BOX), (1, M_BOX)):
        picked = select_label_set([sample], index, ignore_other_sets=True)[0]
        assert picked.ignored_instances.bboxes.tolist() == [other_box]
        assert picked.gt_instances.labels.tolist() == [0]
    assert 'ignored_instances' not in select_label_set([sample], 0)[0]  # literal form
    assert sample.gt_instances.labels.tolist() == [0, 1]                 # input untouched


def _model(ignore_other_sets: bool):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'models' /
                              'mask_rcnn_r18_fpn.py')).model
    cfg = as_label_set_model(cfg)
    cfg.ignore_other_sets = ignore_other_sets
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


@pytest.mark.parametrize('ignore_other_sets', [True, False])
def test_the_m_prime_instance_gets_no_negative_loss_from_L_of_M(ignore_other_sets):
    """The RoI on the M' nucleus is ignored by L(M) (rule on) and a negative (literal Eq. 2)."""
    model = _model(ignore_other_sets)
    model.label_set_weights = (0.66, 0.34)
    sample = _one_image_two_sets()
    inputs = torch.rand(1, 3, 64, 64)
    on_m_prime = torch.tensor([[36., 36., 56., 56.], [35., 37., 55., 57.]])
    injected = torch.cat([on_m_prime, torch.tensor([M_BOX])])

    # RPN proposals: whatever it proposes plus two boxes on the M' nucleus and one on M's.
    original = model.rpn_head.loss_and_predict

    def with_boxes_on_m_prime(*args, **kwargs):
        losses, results = original(*args, **kwargs)
        extended = [InstanceData(
            bboxes=torch.cat([r.bboxes, injected]), scores=torch.cat([r.scores, torch.ones(3)]),
            labels=torch.cat([r.labels, torch.zeros(3, dtype=r.labels.dtype)])) for r in results]
        return losses, extended

    model.rpn_head.loss_and_predict = with_boxes_on_m_prime
    assignments = []
    assign = model.roi_head.bbox_assigner.assign

    def recording(pred_instances, gt_instances, *args, **kwargs):
        result = assign(pred_instances, gt_instances, *args, **kwargs)
        # The sampler later prepends the ground truth to the result in place: copy it now.
        assignments.append((gt_instances.bboxes.clone(), pred_instances.priors.clone(),
                            result.gt_inds.clone()))
        return result

    model.roi_head.bbox_assigner.assign = recording
    model.loss(inputs, [sample])
    learning_m = [(p, r) for gt, p, r in assignments if gt.tolist() == [M_BOX]]
    assert len(learning_m) == 1
    priors, gt_inds = learning_m[0]
    rows = [i for i, box in enumerate(priors.tolist()) if box in on_m_prime.tolist()]
    assert len(rows) == 2
    expected = -1 if ignore_other_sets else 0
    assert gt_inds[rows].tolist() == [expected, expected]
    # The M instance itself stays a positive of L(M) either way.
    m_rows = [i for i, box in enumerate(priors.tolist()) if box == M_BOX]
    assert m_rows and all(gt_inds[i] == 1 for i in m_rows)


def test_rule_without_ignoring_assigners_is_a_clear_error():
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'models' /
                              'mask_rcnn_r18_fpn.py')).model
    cfg.type = 'LabelSetMaskRCNN'
    with pytest.raises(ValueError, match='MaxIoUAssignerWithIgnoredInstances'):
        MODELS.build(cfg)
    cfg.ignore_other_sets = False
    MODELS.build(cfg)
