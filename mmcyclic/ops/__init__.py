"""mmcv's compiled ops where mmcv has none: torchvision's RoIAlign and NMS (see :mod:`.backend`).

``import mmcyclic`` runs :func:`install_mmcv_ops` before anything imports ``mmcv.ops``.
"""
from .backend import MODES, OPS_ENV, install_mmcv_ops, mmcv_ops_backend, requested_mode
from .torchvision_ext import PROVIDED_OPS, MmcvOpNotProvided

__all__ = ['MODES', 'OPS_ENV', 'PROVIDED_OPS', 'MmcvOpNotProvided', 'install_mmcv_ops',
           'mmcv_ops_backend', 'requested_mode']
