"""Remedies for missing-label negatives (issue "Self-training from 4 % of the nuclei"): an
unlabelled nucleus gets no negative loss, true background still does. Each switch is off by
default (today's behaviour), and these tests fail without the remedy they test."""
import numpy as np
import pytest
import torch
from mmdet.models.task_modules import AssignResult
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmcyclic  # noqa: F401
from mmcyclic.models.stain_prior import hematoxylin_blob_boxes

from cyclic_test_utils import REPO, as_label_set_model

LABELLED = (16, 16)     # centre of the labelled nucleus
UNLABELLED = (48, 44)   # centre of a nucleus nobody labelled


def _he_image(size=64, nuclei=(LABELLED, UNLABELLED), radius=7):
    """Pink eosin background with dark purple (hematoxylin) disks."""
    yy, xx = np.mgrid[:size, :size]
    image = np.empty((size, size, 3), np.float64)
    image[:] = (235, 170, 200)  # eosin pink
    for cy, cx in nuclei:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = (70, 40, 130)
    return image


def test_hematoxylin_blobs_are_the_nuclei_not_the_background():
    boxes = hematoxylin_blob_boxes(_he_image(), min_area=30, max_area=2000)
    centres = sorted(((b[1] + b[3]) / 2, (b[0] + b[2]) / 2) for b in boxes.tolist())
    assert np.allclose(centres, [(16.5, 16.5), (48.5, 44.5)], atol=1)
    assert len(hematoxylin_blob_boxes(np.full((64, 64, 3), 230.0))) == 0  # blank: no blob
    assert len(hematoxylin_blob_boxes(_he_image(), min_area=400)) == 0    # area filter


def _model(stain_prior: bool):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(REPO / 'configs' / '_base_' / 'models' /
                              'mask_rcnn_r18_fpn.py')).model
    cfg = as_label_set_model(cfg)  # the weak configs' default: the stain prior on
    cfg.train_cfg.ignore_unlabelled_stain_blobs = (dict(min_area=30, max_area=2000)
                                                   if stain_prior else None)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.label_set_weights = (1.0, 0.0)  # the teacher: M only
    return model.train()


@pytest.mark.parametrize('stain_prior', [True, False])
def test_stain_prior_ignores_anchors_on_an_unlabelled_nucleus(stain_prior):
    model = _model(stain_prior)
    image = torch.from_numpy(_he_image()).permute(2, 0, 1)[None].float()
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                         pad_shape=(64, 64), batch_input_shape=(64, 64),
                                         scale_factor=(1., 1.)))
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 9:24, 9:24] = 1
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[9., 9., 24., 24.]]),
                                       labels=torch.tensor([0]), masks=BitmapMasks(mask, 64, 64))
    data = model.data_preprocessor(dict(inputs=[image[0].flip(0)], data_samples=[sample]), True)
    calls = []
    assign = model.rpn_head.assigner.assign

    def recording(pred_instances, gt_instances, gt_instances_ignore=None, **kwargs):
        result = assign(pred_instances, gt_instances, gt_instances_ignore, **kwargs)
        calls.append((pred_instances.priors.clone(), result.gt_inds.clone()))
        return result

    model.rpn_head.assigner.assign = recording
    model.loss(data['inputs'], data['data_samples'])
    priors, gt_inds = calls[0]
    on_unlabelled = ((priors[:, 0] >= 38) & (priors[:, 1] >= 34) & (priors[:, 2] <= 58)
                     & (priors[:, 3] <= 54) & ((priors[:, 2] - priors[:, 0]) >= 12))
    far = (priors[:, 0] >= 0) & (priors[:, 2] <= 30) & (priors[:, 1] >= 36) & (priors[:, 3] <= 64)
    assert on_unlabelled.any() and far.any()
    if stain_prior:
        assert (gt_inds[on_unlabelled] == -1).any()
    else:
        assert (gt_inds[on_unlabelled] == 0).all()
    assert (gt_inds[far] == 0).all()  # true background stays negative


class _FixedScoreHead:
    """A stand-in RoI head whose box head scores RoIs right of x = 32 as nuclei."""

    def _bbox_forward(self, feats, rois):
        nucleus = (rois[:, 1] >= 32).float()
        logits = torch.stack([4 * nucleus - 2, torch.zeros_like(nucleus)], dim=1)
        return dict(cls_score=logits)


def test_confident_negatives_are_not_sampled_and_true_background_is():
    init_default_scope('mmdet')
    sampler = TASK_UTILS.build(dict(type='ConfidentNegativeIgnoringSampler', num=8,
                                    pos_fraction=0.5, score_thr=0.5, add_gt_as_proposals=False),
                               default_args=dict(context=_FixedScoreHead()))
    priors = torch.tensor([[4., 4., 20., 20.],    # positive
                           [40., 4., 56., 20.],   # negative the model calls a nucleus
                           [4., 40., 20., 56.],   # negative, background to the model
                           [44., 44., 60., 60.]])  # negative the model calls a nucleus
    assign = AssignResult(num_gts=1, gt_inds=torch.tensor([1, 0, 0, 0]),
                          max_overlaps=torch.tensor([1., 0., 0., 0.]),
                          labels=torch.tensor([0, -1, -1, -1]))
    gt = InstanceData(bboxes=torch.tensor([[4., 4., 20., 20.]]), labels=torch.tensor([0]))
    result = sampler.sample(assign, InstanceData(priors=priors), gt, feats=[torch.zeros(1)])
    assert result.pos_inds.tolist() == [0]
    assert result.neg_inds.tolist() == [2]
    # Off (mmdet's RandomSampler): every negative can be drawn.
    plain = TASK_UTILS.build(dict(type='RandomSampler', num=8, pos_fraction=0.5,
                                  add_gt_as_proposals=False))
    assign.gt_inds = torch.tensor([1, 0, 0, 0])
    assert sorted(plain.sample(assign, InstanceData(priors=priors), gt).neg_inds.tolist()) == [
        1, 2, 3]


@pytest.mark.parametrize('config', ['cyclic_r50_monu.py', 'cyclic_swin_monu.py',
                                    'cyclic_r18_monu.py', 'self_training_r18_monu_gt20.py'])
def test_weak_configs_default_to_the_stain_prior_and_the_paper_loss_stays_selectable(config):
    cfg = Config.fromfile(str(REPO / 'configs' / config))
    assert cfg.model.train_cfg.ignore_unlabelled_stain_blobs == dict(min_area=30, max_area=2000)
    assert cfg.model.train_cfg.rcnn.sampler.type == 'RandomSampler'   # recalibration: opt-in
    literal = Config.fromfile(
        str(REPO / 'configs' / 'reproduce' / 'sparse_labels' / 'gt20_paper_loss.py'))
    assert literal.model.ignore_other_sets is False
    assert literal.model.train_cfg.ignore_unlabelled_stain_blobs is None
    init_default_scope('mmdet')
    assert MODELS.build(literal.model).train_cfg.get('ignore_unlabelled_stain_blobs') is None
