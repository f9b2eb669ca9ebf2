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
globals (also for legacy-format and plain-pickle files, whose globals are
read off the pickle opcodes without running them); a user who trusts such a
file can set ``MMCYCLIC_TRUST_CHECKPOINTS=1`` to load it with full unpickling.
Weights holding NaN or infinite values (a diverged run) are refused too.
"""
import os
import os.path as osp
import pickle
import pickletools
import zipfile
from typing import Any, Callable, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from torch import _weights_only_unpickler

TRUST_ENV = 'MMCYCLIC_TRUST_CHECKPOINTS'


class CheckpointRefused(RuntimeError):
    """A checkpoint file was read but is not loaded; the message names the file and why."""


class UnsafeCheckpointError(CheckpointRefused):
    """A checkpoint needs globals outside the safe allow-list; the message names them."""


class NonFiniteWeightsError(CheckpointRefused):
    """A checkpoint holds NaN or infinite weights (a diverged run); the message names them."""


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


def _pickled_globals(filename: str) -> List[str]:
    """The globals that the complete pickles of a non-zip file refer to, read, never run.

    A legacy-format torch file (torch < 1.6, or ``_use_new_zipfile_serialization=False``)
    is several pickles in a row (magic number, protocol, system info, the object), then
    raw tensor data; a plain pickle is one. A pickle cut short (a truncated file) or
    the raw data after them ends the reading.
    """
    found: List[str] = []
    with open(filename, 'rb') as handle:
        size = os.fstat(handle.fileno()).st_size
        for _ in range(4):
            if handle.tell() >= size:
                break
            strings: List[str] = []
            names: List[str] = []
            try:
                for opcode, arg, _ in pickletools.genops(handle):
                    if opcode.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE'):
                        strings.append(arg)
                    elif opcode.name == 'GLOBAL':
                        names.append(arg.replace(' ', '.'))
                    elif opcode.name == 'STACK_GLOBAL' and len(strings) >= 2:
                        names.append(f'{strings[-2]}.{strings[-1]}')
            except (ValueError, EOFError):
                break
            found += names
    return sorted(set(found))


def _refuse_unsafe(filename: str, error: Exception) -> None:
    """Raise :class:`UnsafeCheckpointError` if ``error`` is a safety refusal; else return."""
    if zipfile.is_zipfile(filename):
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # noqa: BLE001 - the listing is only for the message
            unsafe = []
        kind = ''
    else:
        # torch's message for these files advises weights_only=False, which would run them.
        allowed = set(_weights_only_unpickler._get_allowed_globals())
        allowed |= {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
                    for g in safe_checkpoint_globals()}
        unsafe = [name for name in _pickled_globals(filename) if name not in allowed]
        kind = 'a legacy-format or plain-pickle file; '
    if unsafe or 'Unsupported global' in str(error):
        raise UnsafeCheckpointError(
            f'{filename}: {kind}refusing to unpickle objects outside the safe allow-list '
            f'({", ".join(unsafe) or " ".join(str(error).split())[-300:]}). mmcyclic loads '
            f'checkpoints with torch.load(weights_only=True). If you trust this file, set '
            f'{TRUST_ENV}=1 to load it with full unpickling.') from error


def check_finite_weights(checkpoint: Any, filename: str) -> None:
    """Refuse a checkpoint whose weights hold NaN or infinite values.

    Args:
        checkpoint: A loaded checkpoint: a dict with ``state_dict``, or a state dict.
        filename: Its file, named in the error.

    Raises:
        NonFiniteWeightsError: naming the tensors (the first five) and the fix.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    if not isinstance(state, dict):
        return
    broken = [name for name, value in state.items()
              if isinstance(value, torch.Tensor) and value.is_floating_point()
              and not bool(torch.isfinite(value).all())]
    if broken:
        raise NonFiniteWeightsError(
            f'{filename}: {len(broken)} weight tensor(s) hold NaN or infinite values (e.g. '
            f'{", ".join(broken[:5])}): the run that saved it diverged. Use a checkpoint of a '
            'run that converged (lower optim_wrapper.optimizer.lr, keep optim_wrapper.clip_grad '
            'on), or an earlier epoch of this run.')


def load_checkpoint_file(filename: str, map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint with the safe unpickler plus the allow-list.

    Args:
        filename: Path of the checkpoint.
        map_location: Same as :func:`torch.load`.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file (zip, legacy-format or plain pickle)
            needs globals outside the allow-list.
        NonFiniteWeightsError: its weights hold NaN or infinite values.
        pickle.UnpicklingError: the file cannot be unpickled for another reason
            (e.g. it is truncated).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if _trust_all():
        checkpoint = torch.load(filename, map_location=map_location, weights_only=False)
    else:
        try:
            with torch.serialization.safe_globals(safe_checkpoint_globals()):
                checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError) as error:
            _refuse_unsafe(filename, error)
            raise  # not a safety refusal: a damaged file or not a checkpoint
    check_finite_weights(checkpoint, filename)
    return checkpoint


def install_checkpoint_loader() -> None:
    """Replace mmengine's local-file checkpoint loader (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
