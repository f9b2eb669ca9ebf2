"""Which slides a command runs on: files, folders, globs; and each process's share of them."""
import os
from pathlib import Path
from typing import Iterable, List, Tuple

SLIDE_SUFFIXES = ('.svs', '.tif', '.tiff', '.ndpi', '.scn', '.mrxs', '.vms', '.vmu', '.bif',
                  '.czi', '.dcm', '.btf', '.qptiff')


def collect_slides(patterns: Iterable[str]) -> Tuple[List[Path], List[Tuple[str, str]]]:
    """Expand slide files, folders (their slides, not recursive) and globs.

    Returns:
        ``(paths, problems)`` as :func:`mmcyclic.apis.segmenter.collect_inputs`.
    """
    from mmcyclic.apis.segmenter import collect_inputs
    return collect_inputs(patterns, SLIDE_SUFFIXES, kind='slide')


def parse_shard(text: str) -> Tuple[int, int]:
    """``'I/N'`` -> ``(I, N)`` with ``0 <= I < N``.

    Raises:
        ValueError: not of that form.
    """
    try:
        index, count = (int(v) for v in text.split('/'))
    except ValueError:
        raise ValueError(f'--shard must look like I/N (e.g. 0/4), got {text!r}') from None
    if not 0 <= index < count:
        raise ValueError(f'--shard {text}: need 0 <= I < N')
    return index, count


def shard_of(paths: List[Path], index: int, count: int) -> List[Path]:
    """Share ``index`` of ``count`` of the slides: largest files first, dealt round-robin.

    Every share is a deterministic function of the file list, so array jobs and
    torchrun ranks agree without talking to each other.
    """
    ordered = sorted(paths, key=lambda p: (-os.path.getsize(p), str(p)))
    return ordered[index::count]
