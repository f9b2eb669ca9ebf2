"""How the command-line tools end on a problem the user can fix: one ``ERROR:`` line.

A full disk, a value out of range in the config, an empty seed file or two
ends of the cycle with different backbones are the user's to fix, and a
traceback hides the fix. :func:`exit_on_user_error` turns the exceptions that
carry a complete message (the file and the fix) into one line on stderr and
exit status 1; any other exception is a bug and keeps its traceback.
``--debug`` (:func:`add_debug_argument`) keeps the traceback for every error.
"""
import argparse
import contextlib
import errno
import sys
from typing import Iterator, Optional

# errno -> what to do about it
_DISK_FIXES = {
    errno.ENOSPC: 'no space left on the device: free some space or write elsewhere (another '
                  '--work-dir / --out)',
    errno.EDQUOT: 'disk quota exceeded: free some space or write elsewhere (another '
                  '--work-dir / --out)',
    errno.EROFS: 'the file system is read-only: write elsewhere (another --work-dir / --out)',
    errno.EACCES: 'permission denied: write elsewhere (another --work-dir / --out) or make '
                  'the folder writable',
}
_RESUME_NOTE = (' Every file is written atomically, so the files already there are complete; '
                'a training run continues with --resume.')


def _user_error_types() -> tuple:
    """The exception types whose message is complete (imported late: they pull in torch)."""
    from mmcyclic.datasets.label_sets import LabelSetError
    from mmcyclic.engine.optim_wrapper import TrainingDiverged
    from mmcyclic.engine.phase_selection import NoUsableModel
    from mmcyclic.engine.self_training_loop import EmptyPseudoLabels
    from mmcyclic.utils.checkpoint_compat import CheckpointRefused
    from mmcyclic.utils.config import ConfigError
    from mmcyclic.utils.work_dir_lock import WorkDirLocked
    return (ConfigError, LabelSetError, TrainingDiverged, NoUsableModel, EmptyPseudoLabels,
            CheckpointRefused, WorkDirLocked)


def user_error_message(error: BaseException) -> Optional[str]:
    """The one-line message for ``error`` if it is the user's to fix, else None (a bug).

    Args:
        error: The exception a tool ended with.
    """
    if isinstance(error, OSError) and error.errno in _DISK_FIXES:
        where = error.filename or 'a file'
        return f'{where}: {_DISK_FIXES[error.errno]}.{_RESUME_NOTE}'
    if isinstance(error, _user_error_types()):
        return ' '.join(str(error).split())
    return None


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: show the traceback of every error."""
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error instead of one ERROR: line')


@contextlib.contextmanager
def exit_on_user_error(debug: bool = False, prefix: str = '') -> Iterator[None]:
    """Inside the block, an error the user can fix ends the program with one ``ERROR:`` line.

    Args:
        debug: Re-raise every error (full traceback).
        prefix: Put before the message, e.g. ``'configs/x.py: '``; left out when the
            message already starts with it.

    Raises:
        SystemExit: status 1, after ``ERROR: <prefix><message>`` on stderr.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - sorted into the user's and bugs below
        message = None if debug else user_error_message(error)
        if message is None:
            raise
        if prefix and not message.startswith(prefix.rstrip(': ')):
            message = prefix + message
        print(f'ERROR: {message}', file=sys.stderr)
        raise SystemExit(1) from None
