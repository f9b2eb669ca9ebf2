"""One training run per work dir: an exclusive lock file with the owner's pid and host.

Two runs writing the same ``state.json`` and phase checkpoints corrupt each
other's results silently. :class:`WorkDirLock` creates ``<work_dir>/train.lock``
with ``O_CREAT | O_EXCL`` (atomic, also on NFS v3+), holding the owner's pid,
host name and start time as JSON. A second run on the same work dir is refused
with :class:`WorkDirLocked`, which names the owner and the fix. A lock left by a
run that died without cleaning up (``kill -9``, a power cut) is *stale*: its
host is this machine and its pid is no longer running (or now belongs to a
process that started after the lock was written). A stale lock is replaced,
with a warning, so ``--resume`` after a crash needs nothing by hand. A lock
from another host cannot be checked from here; it is refused, and the message
says which file to delete once that run is known to be gone.
"""
import json
import os
import socket
import time
from typing import Any, Dict, Optional

from mmengine.logging import print_log

LOCK_NAME = 'train.lock'


class WorkDirLocked(RuntimeError):
    """Another run holds the work dir; the message names it and what to do."""


def _process_start_time(pid: int) -> Optional[float]:
    """When process ``pid`` started (seconds since the epoch), on Linux; None elsewhere."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii') as handle:
            # Field 22 (after the parenthesised command, which may hold spaces) is the start
            # time in clock ticks after boot.
            ticks = int(handle.read().rsplit(')', 1)[1].split()[19])
        with open('/proc/stat', encoding='ascii') as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith('btime'))
        return boot + ticks / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _running(pid: int, locked_at: Optional[float]) -> bool:
    """Whether ``pid`` is a live process that could have written a lock at ``locked_at``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    started = _process_start_time(pid)
    # A pid reused by a process born after the lock was written is not its owner (1 s slack
    # for the clock-tick rounding of the start time).
    return started is None or locked_at is None or started <= locked_at + 1.0


class WorkDirLock:
    """Exclusive ownership of a work dir by one training run (a context manager).

    Args:
        work_dir (str): The run's work dir (created if needed).

    Raises:
        WorkDirLocked: On :meth:`acquire`, when a live run (or one on another
            host) holds the lock.

    Example:
        >>> with WorkDirLock(cfg.work_dir):
        ...     runner.train()
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = os.path.join(work_dir, LOCK_NAME)
        self.owner = dict(pid=os.getpid(), host=socket.gethostname(), locked_at=time.time())
        self._held = False

    def acquire(self) -> None:
        """Take the lock, replacing a stale one; refuse a live one."""
        os.makedirs(self.work_dir, exist_ok=True)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read_holder()
                if not self._is_stale(holder):
                    raise WorkDirLocked(self._refusal(holder)) from None
                print_log(f'{self.path}: removing the stale lock of pid {holder.get("pid")} on '
                          f'{holder.get("host")}, which is no longer running', logger='current',
                          level=30)
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                json.dump(self.owner, handle)
            self._held = True
            return
        raise WorkDirLocked(self._refusal(self._read_holder()))

    def release(self) -> None:
        """Remove the lock file if this object holds it (idempotent)."""
        if self._held:
            self._held = False
            if self._read_holder().get('pid') == self.owner['pid']:
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def _read_holder(self) -> Dict[str, Any]:
        try:
            with open(self.path, encoding='utf-8') as handle:
                holder = json.load(handle)
            return holder if isinstance(holder, dict) else {}
        except (OSError, ValueError):
            return {}  # gone, or written by a run killed before its first byte

    def _is_stale(self, holder: Dict[str, Any]) -> bool:
        pid = holder.get('pid')
        if not holder:
            # Empty or unreadable: the owner died between creating and writing it, or the file
            # is not ours. Stale once old enough that no live run is still writing it.
            try:
                return time.time() - os.path.getmtime(self.path) > 10
            except FileNotFoundError:
                return True
        if holder.get('host') != self.owner['host'] or not isinstance(pid, int):
            return False
        return not _running(pid, holder.get('locked_at'))

    def _refusal(self, holder: Dict[str, Any]) -> str:
        since = holder.get('locked_at')
        when = time.strftime(' since %Y-%m-%d %H:%M:%S', time.localtime(since)) if isinstance(
            since, (int, float)) else ''
        where = (f'pid {holder.get("pid")} on {holder.get("host")}{when}' if holder
                 else 'a run that is starting')
        return (f'{self.work_dir} is in use by another training run ({where}; lock file '
                f'{self.path}). Two runs in one work dir overwrite each other\'s state and '
                'checkpoints: wait for it to finish, stop it, or pass another --work-dir. If '
                f'that run is gone (e.g. its machine crashed), delete {self.path}.')
