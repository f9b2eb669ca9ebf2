"""The ``RELEVANCE`` registry: configs say ``relevance=dict(type='LRP', ...)``."""
from typing import Any, Dict

import torch
from mmengine.registry import DefaultScope, Registry

RELEVANCE = Registry('relevance', scope='mmcyclic', locations=['mmcyclic.relevance'])


def build_relevance(cfg: Dict[str, Any], model: torch.nn.Module) -> Any:
    """Build a relevance method for a trained classifier.

    Args:
        cfg: ``dict(type='LRP' | 'AttentionRollout', ...)``.
        model: The mmpretrain ``ImageClassifier`` to explain.

    Returns:
        A :class:`mmcyclic.relevance.base.BaseRelevance`.
    """
    # The registry is a root of its own: build in its scope, whatever scope the
    # caller's runner set (mmdet in the cyclic loop, mmpretrain in the tools).
    with DefaultScope.overwrite_default_scope(RELEVANCE.scope):
        return RELEVANCE.build(dict(cfg), default_args=dict(model=model))
