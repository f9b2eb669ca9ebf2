"""KG Instance (Yi et al., "Multi-scale cell instance segmentation with keypoint
graph based bounding boxes", MICCAI 2019) as an mmdet detector: :class:`KGInstance`
(one set of labels) and :class:`LabelSetKGInstance` (weighted label sets).

The paper's: five keypoints per box (corners and centre) predicted as binary
disc heatmaps with short offsets (to the keypoint) and mid offsets (to the
instance's other keypoints) at strides 1, 2, 4, 8 from a coarse-to-fine
decoder; Hough voting, peaks and greedy keypoint-graph grouping into boxes
(:mod:`.grouping`); boxes pooled over strides and NMS'ed (IoU 0.5); one mask per
box; the targets and losses of :mod:`.targets` and :class:`KGKeypointHead`.

Adapted (docs/kg_instance.md):

- backbone: the project's mmpretrain ResNet/Swin module (the classifier's,
  keys ``backbone.*``), all four stages used (:class:`KGDecoder`);
- widths: 3×3 heads and narrow decoder maps by default, so a CPU train step
  costs about a Mask R-CNN step with the same backbone; the paper's 7×7 heads
  and widths are a config override (``configs/_base_/kg_instance.py``); the
  decoder's and heads' input widths are read off the backbone and decoder;
- mask branch: RoIAlign on one decoder map and mmdet's ``FCNMaskHead`` (the
  paper crops every level at the box and fuses them), trained on the
  ground-truth boxes, pasted with mmdet's ``_do_paste_mask``;
- scores: normalised to [0, 1] (:mod:`.grouping`), so the project's thresholds apply;
- label sets (:class:`LabelSetKGInstance`): :class:`~mmcyclic.models.LabelSetLossMixin`
  (one backbone pass, α-weighted sets; the heatmap BCE ignores other sets' and
  stain-prior boxes).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.ops import nms
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmdet.structures.mask import mask_target
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ..backbone_channels import backbone_channels
from ..label_set_detector import LabelSetLossMixin, LossDict
from .heads import DEFAULT_STRIDES, StrideOutputs

DEFAULT_TEST_CFG = dict(score_thr=0.05, nms=dict(iou_threshold=0.5), max_per_img=1000,
                        min_box_size=2.0, mask_thr_binary=0.5)


def _width(key: str, given, wanted):
    """``wanted`` (a width the decoder fixes) unless the config gave another: then an error."""
    if given is None:
        return wanted
    if (tuple(given) if isinstance(given, (list, tuple)) else given) != wanted:
        raise ValueError(f'KGInstance: {key} {given} must be the decoder width(s) {wanted} of the '
                         'maps it reads: set it so or leave it out (it is read off the decoder)')
    return given


@MODELS.register_module()
class KGInstance(BaseDetector):
    """Keypoint-graph boxes and a mask per box, trained on one set of labels.

    Args:
        backbone: mmpretrain ResNet/Swin config, ``out_indices=(0, 1, 2, 3)``.
        neck: :class:`KGDecoder` config; without ``in_channels`` they are read
            off the backbone.
        kp_head: :class:`KGKeypointHead` config; without ``in_channels`` they
            are the decoder's widths at its ``strides`` (given ones are checked).
        mask_roi_extractor: mmdet ``SingleRoIExtractor`` config; its
            ``featmap_strides`` pick the decoder maps the masks read.
        mask_head: mmdet ``FCNMaskHead`` config (one class, class-agnostic);
            ``in_channels`` as ``kp_head``'s.
        train_cfg: ``mask_size`` (mask targets, 28); :class:`LabelSetKGInstance`
            also reads ``ignore_unlabelled_stain_blobs`` (the stain prior).
        test_cfg: ``score_thr``, ``nms.iou_threshold``, ``max_per_img``,
            ``min_box_size`` (px), ``mask_thr_binary`` and the grouping keys of
            :meth:`KGKeypointHead.predict_boxes`.
        data_preprocessor: mmdet ``DetDataPreprocessor`` config.
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: dict, neck: dict, kp_head: dict, mask_roi_extractor: dict,
                 mask_head: dict, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        neck = dict(neck)
        if neck.get('in_channels') is None:
            neck['in_channels'] = backbone_channels(self.backbone)
        self.neck = MODELS.build(neck)
        kp_head = dict(kp_head)
        kp_head['in_channels'] = _width(
            'kp_head.in_channels', kp_head.get('in_channels'),
            self._decoder_widths('kp_head.strides', kp_head.get('strides', DEFAULT_STRIDES)))
        mask_roi_extractor = dict(mask_roi_extractor)
        map_widths = set(self._decoder_widths('mask_roi_extractor.featmap_strides',
                                              mask_roi_extractor['featmap_strides']))
        if len(map_widths) != 1:
            raise ValueError(f'KGInstance: mask_roi_extractor.featmap_strides read decoder maps '
                             f'of different widths {sorted(map_widths)}; pick maps of one width')
        mask_roi_extractor['out_channels'] = _width(
            'mask_roi_extractor.out_channels', mask_roi_extractor.get('out_channels'),
            map_widths.pop())
        mask_head = dict(mask_head, in_channels=_width(
            'mask_head.in_channels', mask_head.get('in_channels'),
            mask_roi_extractor['out_channels']))
        self.kp_head = MODELS.build(kp_head)
        self.mask_roi_extractor = MODELS.build(mask_roi_extractor)
        self.mask_head = MODELS.build(mask_head)
        self.train_cfg = ConfigDict({'mask_size': 28, **(train_cfg or {})})
        self.test_cfg = ConfigDict({**DEFAULT_TEST_CFG, **(test_cfg or {})})
        self._head_levels = self._levels(self.kp_head.strides)
        self._mask_levels = self._levels(self.mask_roi_extractor.featmap_strides)
        if not self.mask_head.class_agnostic and self.mask_head.num_classes != 1:
            raise ValueError('KGInstance: mask_head must predict one class '
                             '(num_classes=1 or class_agnostic=True)')

    def _decoder_widths(self, key: str, strides: Sequence[int]) -> Tuple[int, ...]:
        """The decoder's widths at ``strides`` (``key`` names the config key in errors)."""
        widths = dict(zip(self.neck.strides, self.neck.channels))
        missing = [s for s in strides if s not in widths]
        if missing:
            raise ValueError(f'KGInstance: {key} {tuple(strides)} names strides {missing} that '
                             f'the decoder does not make; it makes {tuple(widths)}')
        return tuple(widths[s] for s in strides)

    def _levels(self, strides: Sequence[int]) -> List[int]:
        """Indices of the decoder maps at ``strides`` (checked by :meth:`_decoder_widths`)."""
        return [tuple(self.neck.strides).index(s) for s in strides]

    @property
    def with_mask(self) -> bool:
        """Always True: every detection has a mask (tiled inference checks this)."""
        return True

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """Decoder maps at ``neck.strides`` (finest first)."""
        return self.neck(batch_inputs, self.backbone(batch_inputs))

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: Optional[Sequence[DetDataSample]] = None):
        """The keypoint heads' raw outputs (per stride: heatmap logits, short, mid)."""
        return self._keypoint_outputs(self.extract_feat(batch_inputs))

    def _keypoint_outputs(self, feats: Tuple[Tensor, ...]) -> List[StrideOutputs]:
        """The keypoint heads on the decoder maps at ``kp_head.strides``."""
        return self.kp_head([feats[i] for i in self._head_levels])

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """Keypoint and mask losses against ``gt_instances``."""
        return self.loss_from_features(self.extract_feat(batch_inputs), batch_data_samples)

    def loss_from_features(self, feats: Tuple[Tensor, ...],
                           batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """Keypoint losses and the mask loss after :meth:`extract_feat` (one label set)."""
        outputs = self._keypoint_outputs(feats)
        losses = self.kp_head.loss(outputs, batch_data_samples,
                                   tuple(batch_data_samples[0].batch_input_shape))
        losses['loss_mask'] = self._mask_loss(feats, batch_data_samples)
        return losses

    def _mask_loss(self, feats: Tuple[Tensor, ...],
                   batch_data_samples: Sequence[DetDataSample]) -> Tensor:
        """``FCNMaskHead`` loss on the set's ground-truth boxes (zero, with gradient, if none)."""
        boxes = [get_box_tensor(s.gt_instances.bboxes) for s in batch_data_samples]
        if not sum(len(b) for b in boxes):
            return sum(p.sum() for p in self.mask_head.parameters()) * 0
        mask_preds = self._mask_forward(feats, boxes)
        targets = mask_target(boxes, [torch.arange(len(b), device=b.device) for b in boxes],
                              [s.gt_instances.masks for s in batch_data_samples],
                              ConfigDict(mask_size=self.train_cfg.mask_size))
        labels = torch.zeros(len(mask_preds), dtype=torch.long, device=mask_preds.device)
        return self.mask_head.loss_mask(mask_preds, targets, labels)

    def _mask_forward(self, feats: Tuple[Tensor, ...], boxes: Sequence[Tensor]) -> Tensor:
        rois = bbox2roi(list(boxes))
        x = self.mask_roi_extractor([feats[i] for i in self._mask_levels], rois)
        return self.mask_head(x)

    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Instances per image in ``pred_instances``: ``bboxes`` (xyxy), ``scores`` in
        [0, 1], ``labels`` (0) and ``masks`` (bool; at ``ori_shape``, padding removed,
        when ``rescale``; else at ``img_shape``)."""
        feats = self.extract_feat(batch_inputs)
        outputs = self._keypoint_outputs(feats)
        cfg = self.test_cfg
        results = []
        for index, sample in enumerate(batch_data_samples):
            boxes, scores = self.kp_head.predict_boxes(outputs, index, cfg)
            results.append(self._select(boxes, scores, sample.img_shape[:2]))
        counts = [len(r) for r in results]
        if sum(counts):
            mask_preds = self._mask_forward(feats, [r.bboxes for r in results]).split(counts)
        else:
            mask_preds = [None] * len(results)
        metas = [s.metainfo for s in batch_data_samples]
        boxes = [r.bboxes for r in results]
        for r in results:
            r.bboxes = r.bboxes.clone()  # FCNMaskHead rescales the boxes it is given in place
        results = self.mask_head.predict_by_feat(mask_preds, results, metas, cfg, rescale=rescale)
        for result, box, meta in zip(results, boxes, metas):
            if rescale:
                box = box / box.new_tensor(meta['scale_factor']).repeat((1, 2))
            result.bboxes = box
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _select(self, boxes: Tensor, scores: Tensor, img_shape: Tuple[int, int]) -> InstanceData:
        """Clip to the image, drop tiny and low boxes, NMS, keep the best ``max_per_img``."""
        cfg = self.test_cfg
        height, width = img_shape
        boxes = torch.stack([boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                             boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], 1)
        sizes = boxes[:, 2:] - boxes[:, :2]
        keep = (sizes >= cfg.min_box_size).all(1) & (scores >= cfg.score_thr)
        boxes, scores = boxes[keep], scores[keep]
        if len(boxes):
            _, order = nms(boxes, scores, cfg.nms['iou_threshold'])
            order = order[:cfg.max_per_img]
            boxes, scores = boxes[order], scores[order]
        return InstanceData(bboxes=boxes, scores=scores,
                            labels=torch.zeros(len(boxes), dtype=torch.long, device=boxes.device))


@MODELS.register_module()
class LabelSetKGInstance(LabelSetLossMixin, KGInstance):
    """KG Instance trained on weighted label sets with one backbone pass (Eq. 2).

    Each set's heatmap loss ignores the other sets' nuclei (their boxes grown
    by the disc radius) when ``ignore_other_sets`` and, with
    ``train_cfg.ignore_unlabelled_stain_blobs``, hematoxylin blobs no set covers.

    Takes :class:`KGInstance`'s arguments and the label-set ones of
    :class:`~mmcyclic.models.LabelSetLossMixin` (``label_set_weights``,
    ``label_set_names``, ``ignore_other_sets``).
    """
