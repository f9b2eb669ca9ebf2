"""HoVer-Net (Graham et al., MedIA 2019) as an mmdet detector.

:class:`HoVerNet` predicts nuclear pixels (NP) and horizontal/vertical
distances to each nucleus' centre (HV) at input resolution and turns them
into instances by a marker-controlled watershed, returning the same
``pred_instances`` as Mask R-CNN (bool masks, xyxy boxes, scores = mean NP
probability, labels). :class:`LabelSetHoVerNet` trains on weighted label
sets with one backbone pass (paper Eq. 2), the self-training student.

The backbone is the project's mmpretrain module (ResNet or Swin-T) under the
key ``backbone``, so the cycle moves its weights to and from the classifier
by name (:mod:`mmcyclic.models.backbone_transfer`). Architecture and its
deviations from the official code: :mod:`.head`; docs/hovernet.md.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ..backbone_channels import backbone_channels
from ..label_set_detector import LabelSetLossMixin, LossDict
from .post_process import hovernet_label_map, instances_from_label_map

# The official post-processing constants (hover_net models/hovernet/post_proc.py).
DEFAULT_TEST_CFG = dict(np_thr=0.5, min_blob_area=10, sobel_ksize=21, blur_ksize=3,
                        marker_thr=0.4, opening_ksize=5, min_marker_area=10)


@MODELS.register_module()
class HoVerNet(BaseDetector):
    """HoVer-Net on an mmpretrain backbone.

    Args:
        backbone: mmpretrain backbone config (``mmpretrain.ResNet`` with
            ``out_indices=(0, 1, 2, 3)``, or ``mmpretrain.SwinTransformer``).
        head: :class:`~mmcyclic.models.hovernet.head.HoVerNetHead` config; without
            ``in_channels`` they are read off the backbone (:func:`backbone_channels`),
            so one head config fits every backbone.
        train_cfg: Training options read by the label-set mixin
            (``ignore_unlabelled_stain_blobs``); None for plain training.
        test_cfg: Post-processing constants, see
            :func:`~mmcyclic.models.hovernet.post_process.hovernet_label_map`
            (missing keys take the official values).
        data_preprocessor: mmdet ``DetDataPreprocessor`` config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, backbone: dict, head: dict, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        head = dict(head)
        if head.get('in_channels') is None:
            head['in_channels'] = backbone_channels(self.backbone)
        self.head = MODELS.build(head)
        self.train_cfg = train_cfg
        unknown = set(test_cfg or {}) - set(DEFAULT_TEST_CFG)
        if unknown:
            raise ValueError(f'model.test_cfg: unknown {sorted(unknown)}; HoVerNet reads '
                             f'{sorted(DEFAULT_TEST_CFG)}')
        self.test_cfg = ConfigDict(DEFAULT_TEST_CFG, **(test_cfg or {}))

    @property
    def with_mask(self) -> bool:
        """HoVerNet predicts instance masks."""
        return True

    @property
    def with_bbox(self) -> bool:
        """HoVerNet predicts a box for each instance (the mask's)."""
        return True

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """The head stem's image maps (finest first), then the backbone's four maps."""
        return self.head.image_features(batch_inputs) + tuple(self.backbone(batch_inputs))

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """NP, HV (and TP) losses against targets made from ``gt_instances.masks``."""
        return self.loss_from_features(self.extract_feat(batch_inputs), batch_data_samples)

    def loss_from_features(self, feats: Tuple[Tensor, ...],
                           batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """The head's losses after :meth:`extract_feat`."""
        return self.head.loss(feats, batch_data_samples)

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: Optional[Sequence[DetDataSample]] = None
                 ) -> Dict[str, Tensor]:
        """Branch logits at input resolution (``mode='tensor'``)."""
        return self.head(self.extract_feat(batch_inputs))

    def predict(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample],
                rescale: bool = True) -> Sequence[DetDataSample]:
        """Instances of each image in ``pred_instances``.

        Args:
            batch_inputs: ``(N, 3, H, W)`` padded, normalised images.
            batch_data_samples: Samples with ``img_shape`` and ``ori_shape``.
            rescale: Masks and boxes at ``ori_shape`` (True) or at ``img_shape``;
                the padding is removed either way.

        Returns:
            The samples with ``pred_instances``: ``masks`` ``(n, h, w)`` bool,
            ``bboxes`` ``(n, 4)`` xyxy, ``scores`` = mean NP probability of the
            instance, ``labels`` (0, or the majority type with a TP branch).
        """
        maps = self.head.predict_maps(self.extract_feat(batch_inputs))
        results = []
        for index, sample in enumerate(batch_data_samples):
            h, w = sample.metainfo['img_shape'][:2]
            image_maps = {key: value[index:index + 1, ..., :h, :w] for key, value in maps.items()}
            if rescale and tuple(sample.metainfo['ori_shape'][:2]) != (h, w):
                size = tuple(sample.metainfo['ori_shape'][:2])
                image_maps = {key: F.interpolate(value.unsqueeze(1) if key == 'np' else value,
                                                 size=size, mode='bilinear',
                                                 align_corners=False)
                              for key, value in image_maps.items()}
                image_maps['np'] = image_maps['np'].squeeze(1)
            results.append(self.instances(image_maps))
        return self.add_pred_to_datasample(list(batch_data_samples), results)

    def instances(self, maps: Dict[str, Tensor]) -> InstanceData:
        """Post-process one image's maps (batch dimension 1) into ``InstanceData``."""
        np_prob = maps['np'][0].detach().float().cpu().numpy()
        hv = maps['hv'][0].detach().float().cpu().numpy()
        labels_map = hovernet_label_map(np_prob, hv, **self.test_cfg)
        boxes, scores, masks = instances_from_label_map(labels_map, np_prob)
        device = maps['np'].device
        labels = torch.zeros(len(scores), dtype=torch.long, device=device)
        if 'tp' in maps and len(scores):
            labels = torch.from_numpy(_majority_types(labels_map, maps['tp'][0])).to(device)
        return InstanceData(masks=torch.from_numpy(masks).to(device),
                            bboxes=torch.from_numpy(boxes).to(device),
                            scores=torch.from_numpy(scores).to(device), labels=labels)


def _majority_types(labels_map: np.ndarray, tp_prob: Tensor) -> np.ndarray:
    """Per instance, the type (0-based) with the largest summed probability over its pixels."""
    n = int(labels_map.max())
    prob = tp_prob.detach().float().cpu().numpy()[1:]  # types, background dropped
    flat = labels_map.ravel()
    sums = np.stack([np.bincount(flat, weights=p.ravel(), minlength=n + 1)[1:] for p in prob])
    return sums.argmax(axis=0).astype(np.int64)


@MODELS.register_module()
class LabelSetHoVerNet(LabelSetLossMixin, HoVerNet):
    """HoVer-Net trained on weighted label sets with one backbone pass (Eq. 2).

    Each set's losses ignore (pixel weight 0) the boxes of the other sets'
    instances when ``ignore_other_sets`` and, with
    ``train_cfg.ignore_unlabelled_stain_blobs``, of hematoxylin blobs no set
    covers; the set's own nuclear pixels always count.

    Takes :class:`HoVerNet`'s arguments and the label-set ones of
    :class:`~mmcyclic.models.LabelSetLossMixin` (``label_set_weights``,
    ``label_set_names``, ``ignore_other_sets``).
    """
