"""Keypoint heads of KG Instance: heatmaps, short and mid offsets at several strides."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import get_box_tensor
from mmengine.model import BaseModule, bias_init_with_prob
from torch import Tensor, nn

from ..label_set_detector import ignored_pixel_mask
from .grouping import decode_boxes
from .targets import DIRECTED_EDGES, NUM_KEYPOINTS, keypoint_targets

#: One stride's outputs: keypoint logits ``(N, 5, h, w)``, short offsets ``(N, 10, h, w)``,
#: mid offsets ``(N, 40, h, w)``.
StrideOutputs = Tuple[Tensor, Tensor, Tensor]
#: Output strides of the heads (the paper's).
DEFAULT_STRIDES = (1, 2, 4, 8)


@MODELS.register_module()
class KGKeypointHead(BaseModule):
    """Three heads per stride (the paper): keypoint heatmaps (5), short offsets
    (10) and mid offsets (40), each ``k×k conv C→C, ReLU, k×k conv C→out``.

    Losses per stride, summed over strides (the paper's ``loss.py``): BCE on
    the heatmaps (mean over the counted pixels), ``Σ|Δshort|/R`` over the
    discs / their pixel count, and ``Σ|Δmid|/R`` over the start keypoint's
    discs / their count, weighted ``loss_weights`` (1, 1, 0.25).

    Adapted: the heatmaps are logits (BCE with logits, numerically stable)
    with the last bias at prior 0.01 (mmdet's dense-head convention); heatmap
    pixels of ignored instances (other label sets, unlabelled stain blobs:
    ``ignored_instances``), grown by ``R`` so their corner discs are covered,
    count neither as positives nor as negatives; and a batch without boxes
    trains the heatmaps towards background (the official code crashes).

    Args:
        in_channels: Channels of the decoder map at each stride.
        strides: Output strides of the heads (the paper: 1, 2, 4, 8).
        head_kernel: Kernel of both convs of every head (the paper: 7).
        kp_radius: Disc radius ``R`` of the targets, in map pixels (the paper: 5).
        min_box_size: A box is a target at stride ``s`` only if its width and
            height there exceed this (None: ``2R + 1``, the paper).
        loss_weights: ``kp``, ``short``, ``mid`` weights.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int] = DEFAULT_STRIDES,
                 head_kernel: int = 3, kp_radius: float = 5.0,
                 min_box_size: Optional[float] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(strides):
            raise ValueError(f'KGKeypointHead: in_channels {tuple(in_channels)} and strides '
                             f'{tuple(strides)} must have the same length (one width per stride)')
        self.strides = tuple(int(s) for s in strides)
        self.kp_radius = float(kp_radius)
        self.min_box_size = 2 * self.kp_radius + 1 if min_box_size is None else min_box_size
        self.loss_weights = dict(kp=1.0, short=1.0, mid=0.25, **(loss_weights or {}))
        outputs = dict(kp=NUM_KEYPOINTS, short=2 * NUM_KEYPOINTS, mid=2 * len(DIRECTED_EDGES))

        def head(channels, out):
            return nn.Sequential(
                ConvModule(channels, channels, head_kernel, padding=head_kernel // 2),
                nn.Conv2d(channels, out, head_kernel, padding=head_kernel // 2))

        self.heads = nn.ModuleList(
            nn.ModuleDict({name: head(c, out) for name, out in outputs.items()})
            for c in in_channels)

    def init_weights(self) -> None:
        super().init_weights()
        for heads in self.heads:
            nn.init.constant_(heads['kp'][-1].bias, bias_init_with_prob(0.01))

    def forward(self, feats: Sequence[Tensor]) -> List[StrideOutputs]:
        """Outputs at each of :attr:`strides` from the decoder maps at those strides."""
        return [(heads['kp'](x), heads['short'](x), heads['mid'](x))
                for heads, x in zip(self.heads, feats)]

    def loss(self, outputs: Sequence[StrideOutputs], batch_data_samples: Sequence[DetDataSample],
             batch_input_shape: Tuple[int, int]) -> Dict[str, Tensor]:
        """``loss_kp``, ``loss_short``, ``loss_mid``, each summed over the strides.

        Args:
            outputs: :meth:`forward`'s result.
            batch_data_samples: Samples with ``gt_instances`` (one label set)
                and optionally ``ignored_instances``.
            batch_input_shape: ``(H, W)`` of the padded batch.
        """
        boxes = [get_box_tensor(s.gt_instances.bboxes) for s in batch_data_samples]
        any_ignored = any(len(s.get('ignored_instances', [])) for s in batch_data_samples)
        total = {name: outputs[0][0].new_zeros(()) for name in ('kp', 'short', 'mid')}
        for stride, (kp_logits, short, mid) in zip(self.strides, outputs):
            shape = tuple(kp_logits.shape[-2:])
            targets = [keypoint_targets(b.to(kp_logits.device), stride, shape, self.kp_radius,
                                        self.min_box_size) for b in boxes]
            heat = torch.stack([t['heatmap'] for t in targets])
            weight = torch.ones_like(heat)
            if any_ignored:
                ignored = self._ignored_at(batch_data_samples, stride, batch_input_shape, shape,
                                           kp_logits.device)
                weight = (~(ignored[:, None] & (heat == 0))).float()
            bce = F.binary_cross_entropy_with_logits(kp_logits, heat, reduction='none')
            total['kp'] = total['kp'] + (bce * weight).sum() / weight.sum().clamp(min=1)
            disc = heat.repeat_interleave(2, dim=1)
            short_error = (short - torch.stack([t['short'] for t in targets])).abs()
            total['short'] = total['short'] + (short_error * disc).sum() / (
                self.kp_radius * disc.sum().clamp(min=1))
            start = heat[:, [a for a, _ in DIRECTED_EDGES]].repeat_interleave(2, dim=1)
            mid_error = (mid - torch.stack([t['mid'] for t in targets])).abs()
            total['mid'] = total['mid'] + (mid_error * start).sum() / (
                self.kp_radius * start.sum().clamp(min=1))
        return {f'loss_{name}': self.loss_weights[name] * value for name, value in total.items()}

    def _ignored_at(self, batch_data_samples: Sequence[DetDataSample], stride: int,
                    batch_input_shape: Tuple[int, int], shape: Tuple[int, int],
                    device: torch.device) -> Tensor:
        """Ignored pixels of the stride-``stride`` maps: the ignored boxes grown by ``R·s``."""
        full = ignored_pixel_mask(batch_data_samples, batch_input_shape, device,
                                  margin=self.kp_radius * stride)
        return full[:, stride // 2::stride, stride // 2::stride][:, :shape[0], :shape[1]]

    def predict_boxes(self, outputs: Sequence[StrideOutputs], index: int,
                      test_cfg: dict) -> Tuple[Tensor, Tensor]:
        """Boxes (image pixels, xyxy) and scores of image ``index``, all strides pooled.

        ``test_cfg`` keys: ``sigma`` (vote smoothing, 2), ``peak_thr`` (0.1),
        ``skip_dist`` (10, map pixels), ``max_keypoints`` (per type and stride, 1000),
        ``box_score`` (``'heatmap'`` or ``'votes'``, see :mod:`.grouping`).
        """
        options = dict(sigma=test_cfg.get('sigma', 2.0), peak_thr=test_cfg.get('peak_thr', 0.1),
                       skip_dist=test_cfg.get('skip_dist', 10.0),
                       max_keypoints=test_cfg.get('max_keypoints', 1000),
                       box_score=test_cfg.get('box_score', 'heatmap'))
        boxes, scores = [], []
        for stride, (kp_logits, short, mid) in zip(self.strides, outputs):
            b, s = decode_boxes(kp_logits[index].sigmoid(), short[index], mid[index], stride,
                                self.kp_radius, **options)
            boxes.append(b)
            scores.append(s)
        return torch.cat(boxes), torch.cat(scores)
