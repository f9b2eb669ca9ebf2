"""torchvision Swin Transformer checkpoints in the keys of mmpretrain's SwinTransformer.

torchvision (``torchvision.models.swin_t``) keeps the layers in one Sequential,
``features``: 0 the patch embedding (conv, permute, norm), then stage blocks at
the odd positions and patch merging at the even ones; ``norm`` is the final
norm and ``head`` the ImageNet classifier. mmpretrain names them
``patch_embed``, ``stages.i.blocks.j`` with the merging of stage i as
``stages.i.downsample``, and the final norm ``norm3`` (the norm after the last
stage, the only one the classifier has).

The patch merging also orders its input channels differently: torchvision
concatenates the four pixels of each 2x2 patch (x0 = (even row, even col),
x1 = (odd, even), x2 = (even, odd), x3 = (odd, odd)), C channels each;
mmpretrain unfolds them, channel-major with the pixels in row-major order.
Its reduction weights and norm are permuted accordingly (as mmpretrain's own
converter for the official Swin weights does).
"""
import re
from typing import Dict, Iterable, List, Tuple

import torch

Tensors = Dict[str, torch.Tensor]

STAGE_BLOCK = re.compile(r'^features\.(\d+)\.(\d+)\.(.+)$')
MERGING = re.compile(r'^features\.(\d+)\.(reduction|norm)\.(.+)$')
MM_BLOCK = re.compile(r'^stages\.(\d+)\.blocks\.(\d+)\.')
# Parts of a torchvision SwinTransformerBlock -> mmpretrain SwinBlock.
BLOCK_PARTS = (('norm1.', 'norm1.'), ('norm2.', 'norm2.'), ('attn.qkv.', 'attn.w_msa.qkv.'),
               ('attn.proj.', 'attn.w_msa.proj.'),
               ('attn.relative_position_bias_table', 'attn.w_msa.relative_position_bias_table'),
               ('mlp.0.', 'ffn.layers.0.0.'), ('mlp.3.', 'ffn.layers.1.'))
# (embedding width, blocks per stage) -> mmpretrain arch.
ARCHS = {(96, (2, 2, 6, 2)): 'Swin-T (tiny)', (96, (2, 2, 18, 2)): 'Swin-S (small)',
         (128, (2, 2, 18, 2)): 'Swin-B (base)', (192, (2, 2, 18, 2)): 'Swin-L (large)'}
# The unfold position of torchvision's x0, x1, x2, x3.
MERGE_ORDER = [0, 2, 1, 3]


def is_torchvision_swin(keys: Iterable[str]) -> bool:
    """Whether ``keys`` are a torchvision Swin Transformer's (v1)."""
    keys = set(keys)
    return 'features.0.0.weight' in keys and 'features.1.0.attn.qkv.weight' in keys


def is_mmpretrain_swin(keys: Iterable[str]) -> bool:
    """Whether ``keys`` are an mmpretrain SwinTransformer's."""
    return 'patch_embed.projection.weight' in set(keys)


def merging_reduction_to_unfold(weight: torch.Tensor) -> torch.Tensor:
    """A (out, 4C) reduction weight over torchvision's pixel-major input -> unfold order."""
    out_channels, in_channels = weight.shape
    weight = weight.reshape(out_channels, 4, in_channels // 4)[:, MERGE_ORDER, :]
    return weight.transpose(1, 2).reshape(out_channels, in_channels)


def merging_norm_to_unfold(vector: torch.Tensor) -> torch.Tensor:
    """A (4C,) norm weight or bias over torchvision's pixel-major input -> unfold order."""
    vector = vector.reshape(4, vector.shape[0] // 4)[MERGE_ORDER, :]
    return vector.transpose(0, 1).reshape(-1)


REORDER = {'reduction': merging_reduction_to_unfold, 'norm': merging_norm_to_unfold}


def _block_key(stage: int, block: int, part: str) -> str:
    for source, target in BLOCK_PARTS:
        if part.startswith(source):
            return f'stages.{stage}.blocks.{block}.{target}{part[len(source):]}'
    return f'stages.{stage}.blocks.{block}.{part}'  # unknown part: reported as not fitting


def torchvision_swin_to_mmpretrain(state: Tensors) -> Tuple[Tensors, List[str]]:
    """A torchvision Swin state dict in mmpretrain SwinTransformer keys.

    Returns:
        Tuple[Dict[str, Tensor], List[str]]: the renamed tensors and the keys left
        out, the ImageNet head ``head``. The constant ``relative_position_index``
        is dropped: flat in torchvision, mmpretrain builds the same indices as a square.
    """
    renamed, left_out = {}, []
    for key, value in state.items():
        if key.endswith('relative_position_index'):
            continue
        if key.startswith('head.'):
            left_out.append(key)
        elif key.startswith('features.0.0.'):
            renamed['patch_embed.projection.' + key[len('features.0.0.'):]] = value
        elif key.startswith('features.0.2.'):
            renamed['patch_embed.norm.' + key[len('features.0.2.'):]] = value
        elif key.startswith('norm.'):
            renamed['norm3.' + key[len('norm.'):]] = value
        elif MERGING.match(key):
            position, part, name = MERGING.match(key).groups()
            renamed[f'stages.{int(position) // 2 - 1}.downsample.{part}.{name}'] = \
                REORDER[part](value)
        elif STAGE_BLOCK.match(key):
            position, block, part = STAGE_BLOCK.match(key).groups()
            renamed[_block_key((int(position) - 1) // 2, int(block), part)] = value
        else:
            renamed[key] = value  # reported as not fitting the target
    return renamed, left_out


def describe_swin(state: Tensors) -> str:
    """'Swin-T (tiny)' etc., or the width and block counts (mmpretrain keys)."""
    blocks = {}
    for key in state:
        match = MM_BLOCK.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    counts = tuple(len(blocks.get(stage, ())) for stage in range(4))
    width = state['patch_embed.projection.weight'].shape[0]
    return ARCHS.get((width, counts), f'Swin Transformer of width {width}, blocks {counts}')
