"""KG Instance (Yi et al., "Multi-scale cell instance segmentation with keypoint
graph based bounding boxes", MICCAI 2019) as an mmdet detector, with label sets.

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
  and widths are a config override (``configs/_base_/models/kg_instance_r50.py``);
- mask branch: RoIAlign on one decoder map and mmdet's ``FCNMaskHead`` (the
  paper crops every level at the box and fuses them), trained on the
  ground-truth boxes, pasted with mmdet's ``_do_paste_mask``;
- scores: normalised to [0, 1] (:mod:`.grouping`), so the project's thresholds apply;
- label sets: :class:`~mmcyclic.models.LabelSetLossMixin` (one backbone pass,
  α-weighted sets; the heatmap BCE ignores other sets' and stain-prior boxes).
"""
from typing import Dict, List, Optional, Sequence, Tuple

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

from ..label_set_detector import LabelSetLossMixin
from .heads import StrideOutputs

DEFAULT_TEST_CFG = dict(score_thr=0.05, nms=dict(iou_threshold=0.5), max_per_img=1000,
                        min_box_size=2.0, mask_thr_binary=0.5)


@MODELS.register_module()
class KGInstance(LabelSetLossMixin, BaseDetector):
    """Keypoint-graph boxes and a mask per box, trained on one or more label sets.

    Args:
        backbone: mmpretrain ResNet/Swin config, ``out_indices=(0, 1, 2, 3)``.
        neck: :class:`KGDecoder` config.
        kp_head: :class:`KGKeypointHead` config (its ``in_channels`` are the
            decoder's widths at its ``strides``).
        mask_roi_extractor: mmdet ``SingleRoIExtractor`` config; its
            ``featmap_strides`` pick the decoder maps the masks read.
        mask_head: mmdet ``FCNMaskHead`` config (one class, class-agnostic).
        train_cfg: ``mask_size`` (mask targets, 28) and optionally
            ``ignore_unlabelled_stain_blobs`` (the stain prior).
        test_cfg: ``score_thr``, ``nms.iou_threshold``, ``max_per_img``,
            ``min_box_size`` (px), ``mask_thr_binary`` and the grouping keys of
            :meth:`KGKeypointHead.predict_boxes`.
        data_preprocessor: mmdet ``DetDataPreprocessor`` config.
        label_set_weights: Weight of each label set; the default trains on set
            0 only (fully supervised); weak configs use ``(0.66, 0.34)``.
        label_set_names: Names of the logged per-set totals.
        ignore_other_sets: Each set's heatmap loss ignores the other sets' nuclei.
        init_cfg: mmengine init config.
    """

    def __init__(self, backbone: dict, neck: dict, kp_head: dict, mask_roi_extractor: dict,
                 mask_head: dict, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 label_set_weights: Sequence[float] = (1.0, 0.0),
                 label_set_names: Sequence[str] = ('M', 'M_prime'),
                 ignore_other_sets: bool = True, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.kp_head = MODELS.build(kp_head)
        self.mask_roi_extractor = MODELS.build(mask_roi_extractor)
        self.mask_head = MODELS.build(mask_head)
        self.train_cfg = ConfigDict({'mask_size': 28, **(train_cfg or {})})
        self.test_cfg = ConfigDict({**DEFAULT_TEST_CFG, **(test_cfg or {})})
        self.set_label_sets(label_set_weights, label_set_names, ignore_other_sets)
        self._head_levels = self._levels('kp_head.strides', self.kp_head.strides)
        self._mask_levels = self._levels('mask_roi_extractor.featmap_strides',
                                         self.mask_roi_extractor.featmap_strides)
        self._check_widths(kp_head, mask_head)
        if not self.mask_head.class_agnostic and self.mask_head.num_classes != 1:
            raise ValueError('KGInstance: mask_head must predict one class '
                             '(num_classes=1 or class_agnostic=True)')

    def _levels(self, key: str, strides: Sequence[int]) -> List[int]:
        available = tuple(self.neck.strides)
        missing = [s for s in strides if s not in available]
        if missing:
            raise ValueError(f'KGInstance: {key} {tuple(strides)} names strides {missing} that '
                             f'the decoder does not make; it makes {available}')
        return [available.index(s) for s in strides]

    def _check_widths(self, kp_head: dict, mask_head: dict) -> None:
        widths = dict(zip(self.neck.strides, self.neck.channels))
        wanted = [widths[s] for s in self.kp_head.strides]
        if tuple(kp_head['in_channels']) != tuple(wanted):
            raise ValueError(f'KGInstance: kp_head.in_channels {tuple(kp_head["in_channels"])} '
                             f'must be the decoder widths at strides {self.kp_head.strides}: '
                             f'set kp_head.in_channels={tuple(wanted)}')
        mask_width = {widths[s] for s in self.mask_roi_extractor.featmap_strides}
        if mask_width != {mask_head['in_channels']}:
            raise ValueError(f'KGInstance: mask_head.in_channels {mask_head["in_channels"]} must '
                             f'be the decoder width at mask_roi_extractor.featmap_strides '
                             f'{self.mask_roi_extractor.featmap_strides}: {sorted(mask_width)}')

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

    def loss_from_features(self, feats: Tuple[Tensor, ...],
                           batch_data_samples: Sequence[DetDataSample]) -> Dict[str, Tensor]:
        """Keypoint losses and the mask loss of one label set."""
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
