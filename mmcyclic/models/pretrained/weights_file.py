"""An ImageNet checkpoint file as the tensors of one built backbone, checked to fit it.

Accepted files (``torch.save``), each for an mmpretrain ``ResNet`` (depth 18 to
152, ``avg_down`` or not) or ``SwinTransformer`` backbone:

- an mmpretrain (or mmdet, or this project's) checkpoint, ``{'state_dict': ...}``
  with ``backbone.*`` keys; the head and the rest are left out;
- a bare mmpretrain backbone state dict (``backbone.state_dict()``);
- a torchvision state dict: ``torchvision.models.resnet18..152().state_dict()``
  or ``torchvision.models.swin_t().state_dict()`` (also under a ``model`` key,
  as torchvision's reference training scripts save it).

A ``module.`` prefix (DataParallel) is dropped. The file fits when, after the
key mapping of its layout, it has every tensor of the backbone with the same
shape and nothing the backbone lacks; the only tensors either side may lack are
a Swin's per-stage output norms (``norm0..norm2`` exist only in the detector,
which reads all four stages), ``relative_position_index`` (a constant) and the
BatchNorm counters ``num_batches_tracked``.
"""
import os.path as osp
import re
from typing import Callable, Dict, List, NamedTuple, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint

from mmcyclic.utils.config import ConfigError

from .resnet_keys import describe_resnet, is_resnet, resnet_to_target
from .swin_keys import (describe_swin, is_mmpretrain_swin, is_torchvision_swin,
                        torchvision_swin_to_mmpretrain)

Tensors = Dict[str, torch.Tensor]
# Tensors a file may lack or have in excess: constants, counters, and a Swin's per-stage output
# norms (norm3, after the last stage, is in every Swin checkpoint and both ends).
CONSTANTS = re.compile(r'(relative_position_index|num_batches_tracked)$')
SWIN_STAGE_NORMS = re.compile(r'^norm[0-2]\.')
ACCEPTED = ('an mmpretrain checkpoint (state_dict with backbone.* keys, e.g. '
            'resnet50_8xb32_in1k_*.pth, swin-tiny_16xb64_in1k_*.pth), a bare mmpretrain '
            'ResNet/SwinTransformer state dict, or a torchvision resnet18..152 / swin_t '
            'state dict (torch.save(model.state_dict(), path))')


class Layout(NamedTuple):
    """A key layout: its name, how to recognise it and how to map it to a target's keys."""

    name: str
    matches: Callable[[Tensors], bool]
    to_target: Callable[[Tensors, Tensors], Tuple[Tensors, List[str]]]


LAYOUTS = (
    # torchvision's and mmpretrain's ResNet keys are the same but for the shortcut positions.
    Layout('ResNet (torchvision or mmpretrain keys)', is_resnet, resnet_to_target),
    Layout('torchvision Swin', is_torchvision_swin,
           lambda state, target: torchvision_swin_to_mmpretrain(state)),
    Layout('mmpretrain Swin', is_mmpretrain_swin, lambda state, target: (dict(state), [])),
)


class BackboneWeights(NamedTuple):
    """A checkpoint's tensors in a backbone's keys, and where they came from."""

    tensors: Tensors
    layout: str
    architecture: str
    left_out: List[str]
    kept_initial: List[str]


def describe(state: Tensors) -> str:
    """The architecture a state dict in mmpretrain keys holds, e.g. 'ResNet-50'."""
    if is_resnet(state):
        return describe_resnet(state)
    if is_mmpretrain_swin(state):
        return describe_swin(state)
    return 'backbone of unknown architecture'


def read_tensors(path: str) -> Tuple[Tensors, List[str]]:
    """The backbone tensors of a checkpoint file and the keys left out (the rest).

    Raises:
        ConfigError: the file is missing or holds no state dict.
    """
    if not osp.isfile(path):
        raise ConfigError(
            f'{path}: pretrained checkpoint not found. Set `pretrained` (in the config, or '
            '--cfg-options pretrained=PATH) to a local ImageNet checkpoint of the backbone '
            f'({ACCEPTED}), or to None to start from random weights; nothing is downloaded.')
    checkpoint = _load_checkpoint(path, map_location='cpu')
    if isinstance(checkpoint, dict):
        for wrapper in ('state_dict', 'model'):
            if isinstance(checkpoint.get(wrapper), dict):
                checkpoint = checkpoint[wrapper]
                break
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ConfigError(f'{path}: holds no state dict (a {type(checkpoint).__name__}); '
                          f'pretrained needs {ACCEPTED}')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if any(k.startswith('backbone.') for k in state):
        backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
        return backbone, sorted(k for k in state if not k.startswith('backbone.'))
    return state, []


def find_layout(state: Tensors, path: str) -> Layout:
    """The layout ``state`` is in.

    Raises:
        ConfigError: its keys match none of :data:`LAYOUTS`.
    """
    for layout in LAYOUTS:
        if layout.matches(state):
            return layout
    raise ConfigError(f'{path}: its keys match neither the mmpretrain nor the torchvision layout '
                      f'of a ResNet or Swin Transformer (first keys: {sorted(state)[:5]}). '
                      f'pretrained needs {ACCEPTED}.')


def backbone_weights_for(backbone: torch.nn.Module, path: str) -> BackboneWeights:
    """``path``'s tensors in the keys of ``backbone``, checked to fit it.

    Args:
        backbone (nn.Module): A built mmpretrain ``ResNet`` or ``SwinTransformer``.
        path (str): The checkpoint file (see the module docstring for the layouts).

    Returns:
        BackboneWeights: the tensors to load (every one in ``backbone``'s keys),
        the file's layout and architecture, the file's keys left out (heads) and
        the backbone's end-specific keys the file has not (they keep their
        initial values).

    Raises:
        ConfigError: the file is missing, its keys match no layout, or its
            architecture differs from the backbone's (missing, extra or
            differently shaped tensors); the message names the file and the fix.
    """
    state, left_out = read_tensors(path)
    layout = find_layout(state, path)
    target = backbone.state_dict()
    converted, heads = layout.to_target(state, target)
    left_out += heads
    swin = is_mmpretrain_swin(target)

    def end_specific(key: str) -> bool:
        return bool(CONSTANTS.search(key) or (swin and SWIN_STAGE_NORMS.match(key)))

    missing = [k for k in target if k not in converted and not end_specific(k)]
    extra = [k for k in converted if k not in target and not end_specific(k)]
    reshaped = [k for k in converted if k in target and converted[k].shape != target[k].shape]
    file_arch, model_arch = describe(converted), describe(target)
    if missing or extra or reshaped:
        details = '; '.join(f'{what}: {keys[:3]}{" ..." if len(keys) > 3 else ""}'
                            for what, keys in (('missing in the file', missing),
                                               ('not in the backbone', extra),
                                               ('other shape', reshaped)) if keys)
        raise ConfigError(
            f'{path}: a {layout.name} checkpoint of a {file_arch}, but the config\'s backbone '
            f'is a {model_arch} ({details}). Set `pretrained` to an ImageNet checkpoint of a '
            f'{model_arch}, or build the backbone the file was trained with.')
    tensors = {k: v for k, v in converted.items() if k in target}
    left_out += sorted(k for k in converted if k not in target)
    kept_initial = sorted(k for k in target if k not in converted and not CONSTANTS.search(k))
    return BackboneWeights(tensors, layout.name, file_arch, left_out, kept_initial)
