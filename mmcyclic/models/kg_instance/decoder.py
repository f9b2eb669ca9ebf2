"""The top-down decoder of KG Instance: backbone maps plus full- and half-resolution maps."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

#: Strides of the backbone maps the decoder takes (ResNet layer1..4, Swin stages 0..3).
BACKBONE_STRIDES = (4, 8, 16, 32)


@MODELS.register_module()
class KGDecoder(BaseModule):
    """Coarse-to-fine fusion of KG Instance (the paper's ``CombinationModule`` chain).

    Levels at strides 1, 2 (from the image) and 4, 8, 16, 32 (the backbone's
    four maps). From the coarsest map down, each level upsamples the one above
    (bilinear), applies a 3×3 conv to its width, concatenates its own map and
    fuses both with a 1×1 conv, as the official ``forward_dec``.

    Adapted: the paper's decoder starts at ResNet ``layer3`` (stride 16) and
    takes its stride-2 map from the ResNet stem; here it starts at the fourth
    backbone map (stride 32, ``layer4``), so the backbone is the classifier's
    whole module (every weight trains and moves between the two ends; no
    unused parameters under DDP), and the stride-2 map is a strided conv on
    the full-resolution one, so Swin (no stride-2 map) fits as well.

    Args:
        in_channels: Channels of the backbone's maps at strides 4, 8, 16, 32.
        channels: Width of the fused maps at strides 1, 2, 4, 8, 16.
        image_channels: Width of the two 3×3 convs on the image (stride 1)
            and of the strided conv after them (stride 2).
        norm_cfg: Norm of every conv (None: conv + ReLU, as the paper).
        init_cfg: mmengine init config.
    """

    strides = (1, 2, 4, 8, 16)

    def __init__(self, in_channels: Sequence[int], channels: Sequence[int] = (16, 32, 64, 64, 128),
                 image_channels: int = 16, norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(BACKBONE_STRIDES):
            raise ValueError(f'KGDecoder: in_channels {tuple(in_channels)} must give the channels '
                             f'of the backbone maps at strides {BACKBONE_STRIDES} (4 values); set '
                             "the backbone's out_indices=(0, 1, 2, 3)")
        if len(channels) != len(self.strides):
            raise ValueError(f'KGDecoder: channels {tuple(channels)} must give one width per '
                             f'output stride {self.strides}')
        self.channels = tuple(channels)

        def conv(cin, cout, kernel, stride=1):
            return ConvModule(cin, cout, kernel, stride=stride, padding=kernel // 2,
                              norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))

        self.image_convs = nn.Sequential(conv(3, image_channels, 3),
                                         conv(image_channels, image_channels, 3))
        self.half_conv = conv(image_channels, image_channels, 3, stride=2)
        lateral = (image_channels, image_channels) + tuple(in_channels[:-1])
        above = tuple(channels[1:]) + (in_channels[-1], )
        self.up_convs = nn.ModuleList(conv(a, c, 3) for a, c in zip(above, channels))
        self.fuse_convs = nn.ModuleList(
            conv(c + lat, c, 1) for c, lat in zip(channels, lateral))

    def forward(self, image: Tensor, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Fused maps at :attr:`strides` (finest first).

        Args:
            image: The (normalised) batch, ``(N, 3, H, W)``, ``H, W`` divisible by 32.
            feats: The backbone's maps at strides 4, 8, 16, 32.
        """
        full = self.image_convs(image)
        lateral = [full, self.half_conv(full)] + list(feats[:-1])
        fused = [None] * len(self.strides)
        above = feats[-1]
        for level in reversed(range(len(self.strides))):
            size = lateral[level].shape[-2:]
            up = self.up_convs[level](F.interpolate(above, size=size, mode='bilinear',
                                                    align_corners=False))
            above = fused[level] = self.fuse_convs[level](torch.cat([up, lateral[level]], 1))
        return tuple(fused)
