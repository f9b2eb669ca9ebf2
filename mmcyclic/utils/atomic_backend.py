"""Atomic checkpoint writes for mmengine.

mmengine saves checkpoints through its file backend: for local paths,
``LocalBackend.put`` opens the destination and writes into it, so a run killed
mid-save leaves a truncated ``epoch_N.pth``. The backend registered here writes
to a temporary file and renames it (see :mod:`mmcyclic.utils.atomic`).
"""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend
from mmengine.fileio import io as mmengine_io
from mmengine.fileio import register_backend

from .atomic import atomic_write_bytes


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose writes are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))


def install_atomic_local_backend() -> None:
    """Make ``AtomicLocalBackend`` the backend for local paths (idempotent)."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # get_file_backend caches instances; drop cached plain LocalBackends.
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
