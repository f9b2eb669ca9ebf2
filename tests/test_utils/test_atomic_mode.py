"""Atomic writes give files the permissions a plain open() would."""
import os
import stat

from mmcyclic.utils.atomic import atomic_write_bytes


def test_atomic_write_uses_the_umask_not_mkstemp_0600(tmp_path):
    plain = tmp_path / 'plain.bin'
    plain.write_bytes(b'x')
    atomic = tmp_path / 'atomic.bin'
    atomic_write_bytes(atomic, b'x')
    assert stat.S_IMODE(os.stat(atomic).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)
