"""Both ends of a cycle that share weights must build the same backbone: checked up front.

In modes ``bilateral`` and ``unilateral`` backbone tensors move by name between
the classifier f^C and the detector f^S. Ends of another type, depth, stem or
width cannot exchange them, and without this check the run finds out only
after the whole cycle-1 classifier and seed extraction (hours at real
budgets). :func:`check_backbones_match` compares, when the cycle is built,

1. the backbone classes and the arguments that shape their weights (depth,
   arch, ``avg_down``, stem and base widths, ...), each read from the config or
   the class's default, naming the ones that differ;
2. the shapes of every tensor the two built backbones share by name (a backstop
   for any other argument that changes them).
"""
import copy
import inspect
from typing import Any, Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmcyclic.utils.config import ConfigError

# Backbone arguments that change which weights exist or their shapes (ResNet, Swin).
WEIGHT_SHAPING_ARGUMENTS = ('depth', 'arch', 'avg_down', 'deep_stem', 'stem_channels',
                            'base_channels', 'expansion', 'num_stages', 'in_channels',
                            'patch_size', 'window_size', 'embed_dims')


class BackboneMismatch(ConfigError):
    """The two ends of a cycle build backbones whose weights cannot move between them."""


def _arguments(cls: type, cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The weight-shaping arguments of ``cls`` built from ``cfg`` (the class default if unset)."""
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {key: cfg.get(key, defaults.get(key)) for key in WEIGHT_SHAPING_ARGUMENTS
            if key in cfg or key in defaults}


def _classifier_backbone(classifier_cfg: Config) -> torch.nn.Module:
    """The classifier's backbone module, built in its scope without loading any weights."""
    from mmpretrain.registry import MODELS
    cfg = copy.deepcopy(dict(classifier_cfg.model.backbone))
    cfg.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(classifier_cfg.get('default_scope', 'mmpretrain')):
        return MODELS.build(cfg)


def check_backbones_match(detector: torch.nn.Module, detector_backbone_cfg: Dict[str, Any],
                          classifier_cfg: Config, classifier_config: str) -> None:
    """Refuse ends whose backbone weights cannot move between them by name.

    Args:
        detector: The back-end model f^S (its ``backbone`` is built).
        detector_backbone_cfg: Its ``model.backbone`` config.
        classifier_cfg: The classifier's config (``model.backbone`` is read).
        classifier_config: The classifier config's path, named in the error.

    Raises:
        BackboneMismatch: naming what differs and the fix.
    """
    classifier = _classifier_backbone(classifier_cfg)
    backbone = detector.backbone
    problems: List[str] = []
    if type(classifier) is not type(backbone):
        problems.append(f'type: detector {type(backbone).__module__}.{type(backbone).__name__}, '
                        f'classifier {type(classifier).__module__}.{type(classifier).__name__}')
    else:
        ours = _arguments(type(backbone), detector_backbone_cfg)
        theirs = _arguments(type(classifier), classifier_cfg.model.backbone)
        problems += [f'{key}: detector {ours[key]!r}, classifier {theirs[key]!r}'
                     for key in ours if ours[key] != theirs.get(key)]
    if not problems:
        shapes = {k: v.shape for k, v in classifier.state_dict().items()}
        differ = [f'{k} {tuple(v.shape)} vs {tuple(shapes[k])}'
                  for k, v in backbone.state_dict().items() if k in shapes and shapes[k] != v.shape]
        if differ:
            problems.append(f'{len(differ)} tensor shapes (detector vs classifier), e.g. '
                            + '; '.join(differ[:3]))
    if problems:
        raise BackboneMismatch(
            f'the detector (model.backbone) and the classifier ({classifier_config}, '
            f'model.backbone) build different backbones, so their weights cannot be shared: '
            f'{"; ".join(problems)}. Give both ends the same backbone (configs/_base_/models/, '
            "e.g. a ResNet-18 detector with classifier_r18.py and avg_down=True), or use "
            "train_cfg.mode='seeds_only', which shares no weights.")
