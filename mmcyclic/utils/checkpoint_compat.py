"""Make mmengine 0.10.7 load checkpoints under torch >= 2.6 safely.

torch >= 2.6 calls ``torch.load(weights_only=True)`` by default. mmengine 0.10.7
does not pass ``weights_only`` and its checkpoints hold objects the safe
unpickler rejects (``HistoryBuffer`` in the message hub, numpy arrays and
scalars), so ``resume`` and ``load_from`` fail with "Unsupported global".

The fix lives here, in one place: the loader mmengine uses for every local
path (``load_from``, ``resume``, ``init_cfg=dict(type='Pretrained')``, mmdet's
Swin ``init_weights``) is replaced by one that keeps ``weights_only=True`` and
allow-lists exactly the globals mmengine checkpoints need. A checkpoint that
needs anything else is refused with a message that names the file and the
globals; a user who trusts such a file can set ``MMCYCLIC_TRUST_CHECKPOINTS=1``
to load it with full unpickling.
"""
import os
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'MMCYCLIC_TRUST_CHECKPOINTS'


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs globals outside the safe allow-list; the message names them."""


def _numpy_globals() -> List[Callable]:
    """Globals that pickled numpy arrays, scalars and dtypes refer to."""
    try:  # numpy >= 2 moved the implementation to numpy._core
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_method(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` during unpickling.

    A ``HistoryBuffer`` pickles its table of statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would let
    a file reach any attribute of any object; this only returns public methods
    of the ``HistoryBuffer`` class.
    """
    if obj is HistoryBuffer and not name.startswith('_') and callable(getattr(obj, name, None)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for attribute {name!r} of a {type(obj).__name__}; only HistoryBuffer '
        'statistics methods are allowed')


def safe_checkpoint_globals() -> List[Any]:
    """The allow-list of non-tensor globals found in mmengine checkpoints."""
    return [HistoryBuffer, (_history_buffer_method, 'builtins.getattr'), *_numpy_globals()]


def _trust_all() -> bool:
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true', 'yes')


def load_checkpoint_file(filename: str, map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint with the safe unpickler plus the allow-list.

    Args:
        filename: Path of the checkpoint.
        map_location: Same as :func:`torch.load`.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file needs globals outside the allow-list.
        pickle.UnpicklingError: the file cannot be unpickled for another reason
            (e.g. it is truncated).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if _trust_all():
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(safe_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # noqa: BLE001 - the listing is only for the message
            unsafe = []
        if not unsafe and 'Unsupported global' not in str(error):
            raise  # not a safety refusal: a damaged file or not a checkpoint
        raise UnsafeCheckpointError(
            f'{filename}: refusing to unpickle objects outside the safe allow-list '
            f'({", ".join(unsafe) or error}). mmcyclic loads checkpoints with '
            f'torch.load(weights_only=True). If you trust this file, set {TRUST_ENV}=1 '
            'to load it with full unpickling.') from error


def install_checkpoint_loader() -> None:
    """Replace mmengine's local-file checkpoint loader (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
