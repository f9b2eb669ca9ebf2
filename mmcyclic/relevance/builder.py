"""The ``RELEVANCE`` registry: configs say ``relevance=dict(type='LRP', ...)``."""
from typing import Any, Dict

import torch
from mmengine.registry import Registry

RELEVANCE = Registry('relevance', scope='mmcyclic', locations=['mmcyclic.relevance'])


def build_relevance(cfg: Dict[str, Any], model: torch.nn.Module) -> Any:
    """Build a relevance method for a trained classifier.

    Args:
        cfg: ``dict(type='LRP' | 'AttentionRollout', ...)``.
        model: The mmpretrain ``ImageClassifier`` to explain.

    Returns:
        A :class:`mmcyclic.relevance.base.BaseRelevance`.
    """
    return RELEVANCE.build(dict(cfg), default_args=dict(model=model))
