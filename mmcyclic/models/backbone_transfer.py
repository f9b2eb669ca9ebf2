"""Move backbone weights between the two ends of the cycle (paper §III-C).

Both directions of Fig. 1 live here:

- front → back: :func:`load_backbone` puts a classifier's (f^C) backbone into
  a detector (f^S) before a self-training phase;
- back → front: :func:`classifier_with_backbone_of` builds the next cycle's
  classifier from the previous classifier and the best f^S's backbone.

Both ends build the same registered backbone module, so tensors move by name.
"""
from typing import Dict, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn


def backbone_state_from_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """The ``backbone.*`` tensors of a classifier or detector checkpoint, prefix removed.

    Raises:
        ValueError: the checkpoint has no ``backbone.`` key.
    """
    checkpoint = _load_checkpoint(path, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    if not backbone:
        raise ValueError(f'{path}: no "backbone." weights in this checkpoint')
    return backbone


def load_backbone(model: nn.Module, path: str, strict_shapes: bool = True) -> Dict[str, int]:
    """Load ``path``'s backbone weights into ``model.backbone``.

    Keys the backbone lacks or that the checkpoint lacks are reported (a
    classifier has no detector-only norms, for example); a shape mismatch is
    an error when ``strict_shapes``.

    Returns:
        Counts ``loaded``, ``missing`` (in the model, not in the file) and
        ``unexpected`` (in the file, not in the model).
    """
    state = backbone_state_from_checkpoint(path)
    target = model.backbone.state_dict()
    mismatched = [k for k, v in state.items() if k in target and target[k].shape != v.shape]
    if mismatched and strict_shapes:
        first = mismatched[0]
        raise ValueError(f'{path}: backbone shapes differ for {mismatched[:5]} '
                         f'(checkpoint {state[first].shape} vs model {target[first].shape}); '
                         'are both ends built with the same backbone depth/arch?')
    usable = {k: v for k, v in state.items() if k in target and k not in mismatched}
    result = model.backbone.load_state_dict(usable, strict=False)
    counts = dict(loaded=len(usable), missing=len(result.missing_keys),
                  unexpected=len(set(state) - set(target)))
    print_log(f'backbone from {path}: {counts}', logger='current')
    if not usable:
        raise ValueError(f'{path}: none of its backbone weights fit the model backbone')
    return counts


def classifier_with_backbone_of(classifier_checkpoint: str,
                                detector_checkpoint: str) -> Tuple[Dict[str, torch.Tensor], int]:
    """The classifier's weights with every ``backbone.*`` tensor taken from a detector.

    The classifier's head (and any backbone tensor the detector lacks) stays.

    Args:
        classifier_checkpoint: f^C checkpoint (mmpretrain ``ImageClassifier``).
        detector_checkpoint: f^S checkpoint whose backbone is handed back.

    Returns:
        The classifier state dict and the number of backbone tensors replaced.

    Raises:
        ValueError: no detector backbone tensor fits the classifier (different
            backbone type or depth), or shapes differ.
    """
    checkpoint = _load_checkpoint(classifier_checkpoint, map_location='cpu')
    weights = dict(checkpoint.get('state_dict', checkpoint))
    replaced = 0
    for key, value in backbone_state_from_checkpoint(detector_checkpoint).items():
        name = f'backbone.{key}'
        if name not in weights:
            continue
        if weights[name].shape != value.shape:
            raise ValueError(f'{detector_checkpoint}: backbone tensor {key} has shape '
                             f'{tuple(value.shape)}, the classifier {classifier_checkpoint} has '
                             f'{tuple(weights[name].shape)}; both ends must use the same backbone '
                             'module and depth (see configs/_base_/models/)')
        weights[name] = value
        replaced += 1
    if not replaced:
        raise ValueError(f'{detector_checkpoint}: no backbone weight fits the classifier '
                         f'{classifier_checkpoint}; both ends must use the same backbone module '
                         'and depth (see configs/_base_/models/)')
    return weights, replaced
