"""Which ops ``mmcv.ops`` runs: mmcv's compiled extension, or torchvision's via mmcyclic.

Every module of ``mmcv.ops`` gets its kernels, when it is first imported, from
``mmcv.utils.ext_loader.load_ext('_ext', names)``, which is ``importlib.import_module('mmcv._ext')``
plus a check that each name exists. :func:`install_mmcv_ops` runs before that (``import mmcyclic``
calls it first, so a config's ``custom_imports`` and the tools do too) and, where no compiled
``mmcv._ext`` loads, puts :mod:`mmcyclic.ops.torchvision_ext` in ``sys.modules['mmcv._ext']``.
A compiled extension that loads is used as it is. ``MMCYCLIC_MMCV_OPS`` forces the choice:

- ``auto`` (default): the compiled ops where they load, torchvision's otherwise;
- ``compiled``: the compiled ops, or an ImportError saying how to build them;
- ``torchvision``: torchvision's, even where a compiled mmcv is installed.
"""
import importlib
import os
import sys
import warnings
from typing import Optional

from . import torchvision_ext
from .torchvision_ext import COMPILED_MMCV_HINT

#: The environment variable that forces the choice.
OPS_ENV = 'MMCYCLIC_MMCV_OPS'
MODES = ('auto', 'compiled', 'torchvision')
_EXT = 'mmcv._ext'


def requested_mode() -> str:
    """The mode ``MMCYCLIC_MMCV_OPS`` asks for (``auto`` when unset or empty).

    Raises:
        ValueError: the variable holds something else than one of :data:`MODES`.
    """
    mode = os.environ.get(OPS_ENV, '').strip().lower() or 'auto'
    if mode not in MODES:
        raise ValueError(f'{OPS_ENV}={os.environ[OPS_ENV]!r}: expected one of {", ".join(MODES)}')
    return mode


def mmcv_ops_backend() -> Optional[str]:
    """``'compiled'`` or ``'torchvision'``: what ``mmcv.ops`` runs; None before either is loaded."""
    ext = sys.modules.get(_EXT)
    if ext is None:
        return None
    return 'torchvision' if ext is torchvision_ext else 'compiled'


def install_mmcv_ops(mode: Optional[str] = None) -> str:
    """Make ``mmcv.ops`` importable with the ops ``mode`` (default: ``MMCYCLIC_MMCV_OPS``) picks.

    Call it before ``mmcv.ops`` is first imported (``import mmcyclic`` does); the choice holds
    for the whole process. A second call returns what is in use.

    Args:
        mode (str, optional): ``'auto'``, ``'compiled'`` or ``'torchvision'``.

    Returns:
        str: ``'compiled'`` or ``'torchvision'``, the ops in use.

    Raises:
        ImportError: ``mode='compiled'`` and mmcv's compiled ops do not load.
        RuntimeError: ``mode`` asks for other ops than those ``mmcv.ops`` already uses.
    """
    mode = mode or requested_mode()
    if mode not in MODES:
        raise ValueError(f'mode={mode!r}: expected one of {", ".join(MODES)}')
    active = mmcv_ops_backend()
    if active is not None:
        if mode not in ('auto', active):
            raise RuntimeError(
                f'{OPS_ENV}={mode}, but mmcv.ops already uses the {active} ops: they are chosen '
                f'once per process, when mmcv.ops is first imported. Import mmcyclic before '
                f'mmcv.ops or mmdet.models (a config does it with custom_imports).')
        return active
    if mode == 'torchvision':
        return _use_torchvision_ops()
    try:
        importlib.import_module(_EXT)
    except ImportError as error:
        if mode == 'compiled':
            raise ImportError(f"{OPS_ENV}=compiled, but mmcv's compiled ops do not load "
                              f'({error}). {COMPILED_MMCV_HINT}') from error
        if not (isinstance(error, ModuleNotFoundError) and error.name == _EXT):
            # there is a build, but it does not load (built for another torch or CUDA)
            warnings.warn(f"mmcv's compiled ops do not load ({error}); using torchvision's "
                          f'RoIAlign and NMS instead (mmcyclic.ops). {COMPILED_MMCV_HINT}',
                          RuntimeWarning, stacklevel=2)
        return _use_torchvision_ops()
    return 'compiled'


def _use_torchvision_ops() -> str:
    """Let :mod:`mmcyclic.ops.torchvision_ext` stand in for ``mmcv._ext``."""
    import mmcv
    sys.modules[_EXT] = torchvision_ext
    mmcv._ext = torchvision_ext
    return 'torchvision'
