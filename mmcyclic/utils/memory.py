"""Give memory freed by finished work back to the operating system."""
import ctypes
import ctypes.util
import functools
from typing import Optional


@functools.lru_cache(maxsize=1)
def _glibc_malloc_trim() -> Optional[ctypes._CFuncPtr]:
    """glibc's ``malloc_trim`` or ``None`` (macOS, musl, Windows)."""
    name = ctypes.util.find_library('c')
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the heap's free pages to the system (glibc ``malloc_trim(0)``).

    Why: torch frees each batch's activations, but glibc keeps large freed
    blocks in its heap, where they fragment; over many tiles the resident
    memory then creeps up with the number of tiles, i.e. with the image size.
    Trimming after each batch keeps the resident memory bounded by one batch.

    Returns:
        Whether anything was released; ``False`` where glibc is not the allocator.
    """
    trim = _glibc_malloc_trim()
    return bool(trim(0)) if trim is not None else False
