"""Helpers for tests of mmcyclic and of projects built on it (imported by configs on demand)."""
from .hooks import WeightDigestHook

__all__ = ['WeightDigestHook']
