"""Pixel relevance of the front-end classifier: LRP (CNNs), attention rollout (Swin).

Methods live in the ``RELEVANCE`` registry so configs say
``relevance=dict(type='LRP', ...)``; :func:`tiled_relevance` applies any of
them to whole images window by window.
"""
from .base import BaseRelevance
from .builder import RELEVANCE, build_relevance
from .canonizers import MMPretrainResNetCanonizer, conv_norm_pairs
from .lrp import LRP
from .rollout import AttentionRollout
from .window_blending import tiled_relevance

__all__ = ['RELEVANCE', 'build_relevance', 'BaseRelevance', 'LRP', 'AttentionRollout',
           'MMPretrainResNetCanonizer', 'conv_norm_pairs', 'tiled_relevance']
