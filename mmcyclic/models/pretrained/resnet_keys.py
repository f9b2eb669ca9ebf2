"""ResNet checkpoints in the keys of the project's mmpretrain ResNet.

torchvision (``torchvision.models.resnet18..152``) and mmpretrain
(``mmpretrain.models.ResNet`` with BatchNorm, whose norms mmcv names ``bn1``,
``bn2``, ``bn3``) name a ResNet's tensors alike; torchvision adds the ImageNet
head ``fc``. Both call a block's shortcut ``downsample``, a Sequential of conv
and norm at positions 0 and 1, except mmpretrain's ``avg_down=True`` shortcut of
a strided block, ``Sequential(AvgPool2d, conv, norm)``, with the conv and norm
at 1 and 2 (the stride-1 shortcut of ``layer1`` in ResNet-50+ keeps 0 and 1).
The project's ResNets use ``avg_down=True``, ImageNet checkpoints (torchvision's
and mmpretrain's ``resnet*_8xb32_in1k``) do not: the shortcut tensors move to
the positions of the target's shortcut, found from its own keys.
"""
import re
from typing import Dict, Iterable, List, Tuple

import torch

Tensors = Dict[str, torch.Tensor]

SHORTCUT = re.compile(r'^(layer\d+\.\d+)\.downsample\.(\d+)\.(.+)$')
BLOCK = re.compile(r'^layer(\d+)\.(\d+)\.')
# (blocks per stage, bottleneck) -> depth, as torchvision and mmpretrain build them.
DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34, ((3, 4, 6, 3), True): 50,
          ((3, 4, 23, 3), True): 101, ((3, 8, 36, 3), True): 152}


def is_resnet(keys: Iterable[str]) -> bool:
    """Whether ``keys`` are a ResNet's (torchvision or mmpretrain)."""
    keys = set(keys)
    return 'conv1.weight' in keys and 'layer1.0.conv1.weight' in keys


def shortcut_positions(state: Tensors) -> Dict[str, Tuple[int, int]]:
    """Each block with a shortcut -> the positions of its conv and norm in ``downsample``."""
    positions = {}
    for key, value in state.items():
        match = SHORTCUT.match(key)
        if match and match.group(3) == 'weight' and value.dim() == 4:
            conv = int(match.group(2))
            positions[match.group(1)] = (conv, conv + 1)
    return positions


def resnet_to_target(state: Tensors, target: Tensors) -> Tuple[Tensors, List[str]]:
    """``state`` renamed to the keys of the mmpretrain ResNet whose state dict is ``target``.

    Args:
        state (Dict[str, Tensor]): A ResNet's tensors (torchvision or mmpretrain, with
            ``avg_down`` or not).
        target (Dict[str, Tensor]): The state dict of the backbone to initialise.

    Returns:
        Tuple[Dict[str, Tensor], List[str]]: the renamed tensors and the keys left out
        (torchvision's ImageNet head ``fc``).
    """
    source_positions = shortcut_positions(state)
    target_positions = shortcut_positions(target)
    renamed, left_out = {}, []
    for key, value in state.items():
        if key.startswith('fc.'):
            left_out.append(key)
            continue
        match = SHORTCUT.match(key)
        if match and match.group(1) in source_positions and match.group(1) in target_positions:
            block, position, rest = match.groups()
            if int(position) in source_positions[block]:
                role = source_positions[block].index(int(position))  # 0: conv, 1: norm
                key = f'{block}.downsample.{target_positions[block][role]}.{rest}'
        renamed[key] = value
    return renamed, left_out


def describe_resnet(keys: Iterable[str]) -> str:
    """'ResNet-50', or the block counts of a ResNet of another depth."""
    keys = set(keys)
    blocks = {}
    for key in keys:
        match = BLOCK.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    counts = tuple(len(blocks.get(stage, ())) for stage in (1, 2, 3, 4))
    bottleneck = 'layer1.0.conv3.weight' in keys
    depth = DEPTHS.get((counts, bottleneck))
    if depth is not None:
        return f'ResNet-{depth}'
    return f'ResNet with {"bottleneck" if bottleneck else "basic"} blocks {counts}'
