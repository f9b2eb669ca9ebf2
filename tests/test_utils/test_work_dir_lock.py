"""One training run per work dir (issue 27 item 3): a lock file with pid and host."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mmcyclic.utils.work_dir_lock import LOCK_NAME, WorkDirLock, WorkDirLocked

from cyclic_test_utils import REPO


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def _write_lock(work_dir, **holder):
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / LOCK_NAME).write_text(json.dumps(holder))


def test_a_second_run_is_refused_naming_the_owner_and_the_fix(tmp_path):
    with WorkDirLock(str(tmp_path)):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder['pid'] == os.getpid() and holder['host'] == socket.gethostname()
        with pytest.raises(WorkDirLocked) as caught:
            WorkDirLock(str(tmp_path)).acquire()
    message = str(caught.value)
    assert f'pid {os.getpid()} on {socket.gethostname()}' in message
    assert '--work-dir' in message and str(tmp_path / LOCK_NAME) in message
    assert not (tmp_path / LOCK_NAME).exists()  # released on leaving the block


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError, match='boom'):
        with WorkDirLock(str(tmp_path)):
            raise RuntimeError('boom')
    WorkDirLock(str(tmp_path)).acquire()


def test_a_stale_lock_of_a_dead_process_on_this_host_is_replaced(tmp_path):
    """kill -9 leaves the lock behind; --resume must not need it removed by hand."""
    _write_lock(tmp_path, pid=_dead_pid(), host=socket.gethostname(), locked_at=time.time())
    with WorkDirLock(str(tmp_path)):
        assert json.loads((tmp_path / LOCK_NAME).read_text())['pid'] == os.getpid()


def test_a_reused_pid_that_started_after_the_lock_is_not_its_owner(tmp_path):
    """The pid is alive (this process) but started long after the lock was written."""
    _write_lock(tmp_path, pid=os.getpid(), host=socket.gethostname(), locked_at=1.0)
    with WorkDirLock(str(tmp_path)):
        pass


def test_a_lock_from_another_host_is_refused(tmp_path):
    _write_lock(tmp_path, pid=_dead_pid(), host='other-node', locked_at=time.time())
    with pytest.raises(WorkDirLocked, match='on other-node.*delete'):
        WorkDirLock(str(tmp_path)).acquire()


@pytest.mark.slow
def test_tools_train_refuses_a_work_dir_in_use(tmp_path):
    """The lock is held by this (live) process: train.py exits with one ERROR line before
    building anything."""
    work = tmp_path / 'work'
    with WorkDirLock(str(work)):
        proc = subprocess.run([sys.executable, 'tools/train.py',
                               'configs/mask_rcnn_r18_synthetic.py', '--work-dir', str(work)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR: ') and 'in use by another training run' in last, last
    assert f'pid {os.getpid()}' in last
    assert not any(work.glob('*/vis_data')), 'the refused run must not start logging'
