"""HoVer-Net's decoders on an mmpretrain backbone (ResNet or Swin), same-padded.

Layout, per branch (NP, HV and the optional TP), after shared lateral 1×1
convolutions that bring the backbone's four maps (/4, /8, /16, /32) to
``feat_channels`` (the /32 map to the /16 width, the official ``conv_bot``):

- /16: ``up2(/32) + lateral(/16)`` → 3×3 conv → dense block → 1×1 conv
- /8:  ``up2 + lateral(/8)`` → 3×3 conv → dense block → 1×1 conv
- /4:  ``up2 + lateral(/4)`` → 3×3 conv (``out_channels``)
- full resolution, ``upsample='skip'`` (default): for /2 and then /1,
  ``up2``, concatenation with a feature map computed from the image by the
  head's own small stem (``full_res_channels``), 3×3 conv; ``'bilinear'``:
  the /4 logits upsampled ×4 (cheaper, coarser borders between touching nuclei)
- BN-ReLU-1×1 conv to the branch's outputs (NP 2, HV 2, TP ``num_types + 1``)

``up2`` is nearest-neighbour, dense blocks are the official ones (units of
BN-ReLU-1×1 → BN-ReLU-grouped 3×3, each concatenated to its input).

Deviations from the official preact-ResNet50 HoVer-Net (``conic`` branch, the
same-padded one) and why:

- The encoder is the project's mmpretrain backbone with its own keys
  (``backbone.*``), so the cycle moves its weights to and from the classifier
  unchanged. Its maps are at /4../32 (official: /1../8 with a stride-1 stem
  and no max-pool), so the decoder has two more ×2 stages.
- Those stages take their skip features from a stem of the head (two 3×3
  convs on the image), not from ``backbone.conv1``: it works the same for
  ResNet and Swin (which has no /2 map) and leaves the backbone's forward
  mmpretrain's own.
- Widths and dense-block sizes are configurable; the defaults are lighter
  than the official (256/512/1024 wide, 4 and 8 units of growth 32 at
  bottleneck 128, 64 at /1) to train on CPUs. The official sizes are
  ``feat_channels=(256, 512, 1024), stage_channels=(128, 256),
  dense_units=(4, 8), growth=32, bottleneck=128, out_channels=64``.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.model import BaseModule, normal_init
from torch import Tensor, nn

from ..label_set_detector import ignored_pixel_mask
from .losses import msge, weighted_cross_entropy, weighted_dice, weighted_mse
from .targets import batch_targets

PREACT = ('norm', 'act', 'conv')


class DenseBlock(nn.Module):
    """Units of BN-ReLU-1×1 (``bottleneck``) → BN-ReLU-3×3 (``growth``, ``groups``),
    each output concatenated to its input; BN-ReLU at the end."""

    def __init__(self, in_channels: int, num_units: int, bottleneck: int, growth: int,
                 groups: int, norm_cfg: dict) -> None:
        super().__init__()
        units, channels = [], in_channels
        for _ in range(num_units):
            units.append(nn.Sequential(
                ConvModule(channels, bottleneck, 1, bias=False, norm_cfg=norm_cfg, order=PREACT),
                ConvModule(bottleneck, growth, 3, padding=1, groups=groups, bias=False,
                           norm_cfg=norm_cfg, order=PREACT)))
            channels += growth
        self.units = nn.ModuleList(units)
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.out_channels = channels

    def forward(self, x: Tensor) -> Tensor:
        for unit in self.units:
            x = torch.cat([x, unit(x)], dim=1)
        return F.relu(self.norm(x))


class BranchDecoder(nn.Module):
    """One branch: /32 → input resolution, ``num_outputs`` channels (see the module doc)."""

    def __init__(self, num_outputs: int, feat_channels: Sequence[int],
                 stage_channels: Sequence[int], dense_units: Sequence[int], bottleneck: int,
                 growth: int, groups: int, out_channels: int, full_res_channels: Sequence[int],
                 norm_cfg: dict) -> None:
        super().__init__()
        stages = []
        for level in (2, 1):  # /16, /8
            dense = DenseBlock(stage_channels[level - 1], dense_units[level - 1], bottleneck,
                               growth, groups, norm_cfg)
            stages.append(nn.Sequential(
                nn.Conv2d(feat_channels[level], stage_channels[level - 1], 3, padding=1,
                          bias=False),
                dense,
                nn.Conv2d(dense.out_channels, feat_channels[level - 1], 1, bias=False)))
        self.stages = nn.ModuleList(stages)
        self.quarter = nn.Conv2d(feat_channels[0], out_channels, 3, padding=1, bias=False)
        full_res, channels = [], out_channels
        for skip in reversed(full_res_channels):  # /2, then /1
            full_res.append(ConvModule(channels + skip, skip, 3, padding=1, bias=False,
                                       norm_cfg=norm_cfg))
            channels = skip
        self.full_res = nn.ModuleList(full_res)
        self.out = nn.Sequential(build_norm_layer(norm_cfg, channels)[1], nn.ReLU(inplace=True),
                                 nn.Conv2d(channels, num_outputs, 1))

    def forward(self, laterals: Sequence[Tensor], image_feats: Sequence[Tensor]) -> Tensor:
        """``laterals``: /4../32 maps; ``image_feats``: the stem's maps, finest first."""
        x = laterals[3]
        for stage, skip in zip(self.stages, (laterals[2], laterals[1])):
            x = stage(_up2(x, skip) + skip)
        x = self.quarter(_up2(x, laterals[0]) + laterals[0])
        for conv, skip in zip(self.full_res, reversed(image_feats)):
            x = conv(torch.cat([_up2(x, skip), skip], dim=1))
        return self.out(x)


def _up2(x: Tensor, like: Tensor) -> Tensor:
    """Nearest-neighbour upsampling to ``like``'s size (×2 for inputs divisible by 32)."""
    return F.interpolate(x, size=like.shape[-2:], mode='nearest')


@MODELS.register_module()
class HoVerNetHead(BaseModule):
    """NP, HV (and optional TP) decoders of HoVer-Net, their targets and losses.

    Args:
        in_channels: Channels of the backbone's four maps (/4, /8, /16, /32),
            e.g. ``(256, 512, 1024, 2048)`` for ResNet-50, ``(64, 128, 256, 512)``
            for ResNet-18, ``(96, 192, 384, 768)`` for Swin-T (:class:`HoVerNet`
            fills them in from its backbone when the config leaves them out).
        feat_channels: Lateral widths at /4, /8, /16 (the /32 map goes to the
            /16 width).
        stage_channels: Width of the 3×3 conv before the dense block at /8, /16.
        dense_units: Dense-block units at /8, /16 (official ``(4, 8)``).
        bottleneck: Dense unit's 1×1 width (official 128).
        growth: Dense unit's output channels (official 32).
        groups: Groups of the dense unit's 3×3 conv (official 4).
        out_channels: Width at /4 (official 64).
        upsample: ``'skip'`` (stem skips at /2 and /1) or ``'bilinear'`` (×4 of
            the /4 logits).
        full_res_channels: Stem and decoder widths at /1 and /2 (``'skip'`` only).
        num_types: Nucleus types of the TP branch; None (default) = no TP branch.
        loss_weights: Weights of ``np_ce``, ``np_dice``, ``hv_mse``, ``hv_msge``
            (and ``tp_ce``, ``tp_dice``); default 1 each, as the official PyTorch
            ``opt.py`` that the Cyclic Learning code trains with.
        msge_cross_derivatives: False (default): the MSGE compares ∂HV_x/∂x and
            ∂HV_y/∂y, as the HoVer-Net paper writes. True: ∂HV_x/∂y and ∂HV_y/∂x,
            what the official code computes (see ``losses.sobel_kernels``).
        min_hv_area: Instances smaller than this (pixels) get no HV target.
        norm_cfg: Normalisation layers of the decoders.
        init_cfg: mmengine initialisation config.
    """

    LOSS_KEYS = ('np_ce', 'np_dice', 'hv_mse', 'hv_msge', 'tp_ce', 'tp_dice')

    def __init__(self, in_channels: Sequence[int], feat_channels: Sequence[int] = (64, 128, 256),
                 stage_channels: Sequence[int] = (64, 128), dense_units: Sequence[int] = (2, 4),
                 bottleneck: int = 64, growth: int = 16, groups: int = 4,
                 out_channels: int = 32, upsample: str = 'skip',
                 full_res_channels: Sequence[int] = (16, 32), num_types: Optional[int] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 msge_cross_derivatives: bool = False, min_hv_area: int = 30,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self._check(in_channels, feat_channels, stage_channels, dense_units, upsample,
                    full_res_channels, loss_weights)
        self.upsample = upsample
        self.num_types = num_types
        self.msge_cross_derivatives = msge_cross_derivatives
        self.min_hv_area = min_hv_area
        self.loss_weights = {key: 1.0 for key in self.LOSS_KEYS}
        self.loss_weights.update(loss_weights or {})
        widths = (*feat_channels, feat_channels[2])
        self.laterals = nn.ModuleList(
            ConvModule(c_in, c_out, 1, bias=False, norm_cfg=norm_cfg)
            for c_in, c_out in zip(in_channels, widths))
        skips = tuple(full_res_channels) if upsample == 'skip' else ()
        self.stem = nn.ModuleList()
        for index, channels in enumerate(skips):  # /1 then /2
            previous = 3 if index == 0 else skips[index - 1]
            self.stem.append(ConvModule(previous, channels, 3, stride=1 if index == 0 else 2,
                                        padding=1, bias=False, norm_cfg=norm_cfg))
        outputs = dict(np=2, hv=2)
        if num_types is not None:
            outputs['tp'] = num_types + 1
        self.branches = nn.ModuleDict({
            name: BranchDecoder(n, feat_channels, stage_channels, dense_units, bottleneck,
                                growth, groups, out_channels, skips, norm_cfg)
            for name, n in outputs.items()})

    @staticmethod
    def _check(in_channels, feat_channels, stage_channels, dense_units, upsample,
               full_res_channels, loss_weights) -> None:
        if len(in_channels) != 4:
            raise ValueError(f'head.in_channels must give the backbone\'s 4 maps (/4../32), got '
                             f'{tuple(in_channels)}; set backbone.out_indices=(0, 1, 2, 3)')
        for key, value, n in (('feat_channels', feat_channels, 3),
                              ('stage_channels', stage_channels, 2),
                              ('dense_units', dense_units, 2),
                              ('full_res_channels', full_res_channels, 2)):
            if len(value) != n:
                raise ValueError(f'head.{key} needs {n} values, got {tuple(value)}')
        if upsample not in ('skip', 'bilinear'):
            raise ValueError(f"head.upsample must be 'skip' or 'bilinear', got {upsample!r}")
        unknown = set(loss_weights or {}) - set(HoVerNetHead.LOSS_KEYS)
        if unknown:
            raise ValueError(f'head.loss_weights: unknown {sorted(unknown)}; the keys are '
                             f'{HoVerNetHead.LOSS_KEYS}')

    def init_weights(self) -> None:
        """Default initialisation, then each branch's last conv as N(0, 0.01²), bias 0 (as
        mmdet's dense heads): the first HV maps are near 0 instead of noise whose MSGE would
        outweigh every other loss ~100:1 and, clipped, stall the NP branch."""
        super().init_weights()
        for branch in self.branches.values():
            normal_init(branch.out[-1], std=0.01, bias=0)

    def image_features(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """The stem's maps of the (normalised) images, finest first (none for 'bilinear')."""
        feats, x = [], inputs
        for conv in self.stem:
            x = conv(x)
            feats.append(x)
        return tuple(feats)

    def forward(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Logits of every branch at input resolution.

        Args:
            feats: :meth:`image_features` followed by the backbone's four maps.

        Returns:
            ``np`` ``(N, 2, H, W)``, ``hv`` ``(N, 2, H, W)`` and, with a TP
            branch, ``tp`` ``(N, num_types + 1, H, W)``.
        """
        num_image = len(self.stem)
        image_feats, backbone_feats = feats[:num_image], feats[num_image:]
        laterals = [lateral(x) for lateral, x in zip(self.laterals, backbone_feats)]
        outputs = {name: branch(laterals, image_feats) for name, branch in self.branches.items()}
        if self.upsample == 'bilinear':
            outputs = {name: F.interpolate(x, scale_factor=4, mode='bilinear',
                                           align_corners=False)
                       for name, x in outputs.items()}
        return outputs

    def loss(self, feats: Sequence[Tensor], samples: Sequence[DetDataSample]) -> Dict[str, Tensor]:
        """Weighted losses of one label set.

        Pixels of ``ignored_instances`` boxes (other label sets, unlabelled
        stain blobs, mmdet's ignored instances) get weight 0 in the CE, Dice
        and MSE, except the set's own nuclear pixels.
        """
        outputs = self(feats)
        shape = tuple(outputs['np'].shape[-2:])
        device = outputs['np'].device
        np_target, hv_target, tp_target = batch_targets(samples, shape, device, self.min_hv_area)
        weight = (~ignored_pixel_mask(samples, shape, device)).to(outputs['np'].dtype)
        hv = outputs['hv']
        losses = dict(
            np_ce=weighted_cross_entropy(outputs['np'], np_target, weight),
            np_dice=weighted_dice(outputs['np'], np_target, weight),
            hv_mse=weighted_mse(hv, hv_target, weight),
            hv_msge=msge(hv, hv_target, np_target, self.msge_cross_derivatives))
        if 'tp' in outputs:
            losses.update(tp_ce=weighted_cross_entropy(outputs['tp'], tp_target, weight),
                          tp_dice=weighted_dice(outputs['tp'], tp_target, weight))
        return {f'loss_{key}': value * self.loss_weights[key] for key, value in losses.items()}

    def predict_maps(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """NP probability ``(N, H, W)``, HV ``(N, 2, H, W)`` and TP probabilities."""
        outputs = self(feats)
        maps = dict(np=outputs['np'].softmax(dim=1)[:, 1], hv=outputs['hv'])
        if 'tp' in outputs:
            maps['tp'] = outputs['tp'].softmax(dim=1)
        return maps
