"""The widths a backbone module hands to a back-end's decoder, read off the module itself."""
from typing import Tuple

import torch


@torch.no_grad()
def backbone_channels(backbone: torch.nn.Module) -> Tuple[int, ...]:
    """Channels of each map the backbone returns, from one forward pass on a 64×64 zero
    image in eval mode (no statistics change).

    Args:
        backbone: An mmpretrain ResNet/Swin module (any module returning a tuple of maps).

    Returns:
        One channel count per returned map.
    """
    was_training = backbone.training
    backbone.eval()
    try:
        outputs = backbone(torch.zeros(1, 3, 64, 64))
    finally:
        backbone.train(was_training)
    return tuple(int(x.shape[1]) for x in outputs)
