"""The tools end on a problem the user can fix with one ERROR: line (issue 27 item 12)."""
import errno
import os

import pytest

from mmcyclic.utils.config import ConfigError
from mmcyclic.utils.tool_errors import exit_on_user_error, user_error_message


def test_a_full_disk_names_the_file_and_the_fix(tmp_path, monkeypatch):
    """A full disk shows up in the write or the fsync of an atomic write, whose OSError
    names no file; the message names the destination."""
    import mmcyclic.utils.atomic as atomic

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    atomic.atomic_write_bytes(tmp_path / 'epoch_1.pth', b'old')
    monkeypatch.setattr(atomic.os, 'fsync', disk_full)
    with pytest.raises(OSError) as caught:
        atomic.atomic_write_bytes(tmp_path / 'epoch_1.pth', b'new')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'old'
    message = user_error_message(caught.value)
    assert message.startswith(f'{tmp_path / "epoch_1.pth"}: no space left on the device')
    assert '--work-dir' in message and '--resume' in message


def test_a_real_full_device_error_is_a_user_error():
    with pytest.raises(OSError) as caught:
        with open('/dev/full', 'w') as handle:
            handle.write('x')
    assert caught.value.errno == errno.ENOSPC
    assert 'no space left on the device' in user_error_message(caught.value)


def test_a_user_error_is_one_line_and_exit_status_1(capsys):
    with pytest.raises(SystemExit) as caught:
        with exit_on_user_error(prefix='configs/x.py: '):
            raise ConfigError('train_cfg.alpha must be a number in [0, 1],\n got 1.5')
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert err == 'ERROR: configs/x.py: train_cfg.alpha must be a number in [0, 1], got 1.5\n'


def test_debug_keeps_the_traceback():
    with pytest.raises(ConfigError):
        with exit_on_user_error(debug=True):
            raise ConfigError('bad value')


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        with exit_on_user_error():
            1 / 0
