"""Atomic file writes: a reader never sees a half-written file.

Every checkpoint, seed set, label map and export of the package goes through
these helpers. The data are written to a temporary file in the destination
folder, flushed and fsync'ed, then moved over the destination with
``os.replace`` (atomic on POSIX and Windows within one file system). A crash or
Ctrl-C leaves either the old file or the new one, plus at worst a
``.<name>.tmp-*`` file that the next write ignores.
"""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Union

PathLike = Union[str, os.PathLike]

# Read once at import: os.umask can only be read by setting it, which is not
# thread-safe to do on every write.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block exits cleanly.

    Args:
        path: Final destination. Parent folders are created.
        mode: ``'wb'`` or ``'w'`` (text, UTF-8).

    Yields:
        The open temporary file object.
    """
    if mode not in ('wb', 'w'):
        raise ValueError(f'atomic_open supports modes "wb" and "w", got {mode!r}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f'.{path.name}.tmp-', dir=path.parent)
    try:
        # mkstemp creates 0600 files; outputs get the permissions open() would give.
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        encoding = None if 'b' in mode else 'utf-8'
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError) and error.filename is None:
            # A failed write or fsync (a full disk) names no file: name the destination.
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as handle:
        handle.write(data)


def atomic_write_json(path: PathLike, obj: Any, indent: Union[int, None] = None,
                      allow_nan: bool = True) -> None:
    """Serialise ``obj`` as JSON into ``path`` atomically.

    Args:
        path: Destination.
        obj: JSON-serialisable object.
        indent: JSON indentation.
        allow_nan: Write NaN/Infinity as the non-standard ``NaN``/``Infinity``
            (Python reads them; strict JSON readers do not). False: a
            non-finite float raises ``ValueError`` and ``path`` is left as it was.
    """
    with atomic_open(path, 'w') as handle:  # a failed dump leaves the destination as it was
        json.dump(obj, handle, indent=indent, allow_nan=allow_nan)


def atomic_copy(src: PathLike, dst: PathLike) -> None:
    """Copy the file ``src`` to ``dst`` atomically (``dst`` is whole or unchanged)."""
    with open(src, 'rb') as source, atomic_open(dst, 'wb') as handle:
        shutil.copyfileobj(source, handle, length=16 * 1024 * 1024)
