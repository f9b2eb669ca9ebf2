"""tools/dist_train.sh and tools/dist_test.sh pick the project's venv without activating it."""
import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _fake_python(folder: Path, tag: str) -> Path:
    """An executable 'python' that records which one ran and with what arguments."""
    folder.mkdir(parents=True)
    path = folder / 'python'
    path.write_text(f'#!/bin/sh\necho "{tag} $*" >> "$CALLS"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize('script, args', [('dist_train.sh', ['cfg.py', '2']),
                                          ('dist_test.sh', ['cfg.py', 'ckpt.pth', '2'])])
def test_launch_uses_the_venv_of_make_setup(tmp_path, script, args):
    """Item 6 of issue 19: the launchers ran `python` from PATH, not the project's venv."""
    _fake_python(tmp_path / 'venv' / 'bin', 'VENV')
    _fake_python(tmp_path / 'path_bin', 'PATH')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env.update(MMCYCLIC_VENV=str(tmp_path / 'venv'), CALLS=str(tmp_path / 'calls'),
               PATH=f'{tmp_path / "path_bin"}{os.pathsep}{env["PATH"]}')
    proc = subprocess.run(['bash', str(REPO / 'tools' / script), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / 'calls').read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith('VENV -m torch.distributed.run')
    assert '--nproc_per_node=2' in calls[0] and calls[0].endswith('--launcher pytorch')

    (tmp_path / 'calls').unlink()  # without a venv: python from PATH (an activated env)
    subprocess.run(['bash', str(REPO / 'tools' / script), *args], env=dict(
        env, MMCYCLIC_VENV=str(tmp_path / 'none')), cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / 'calls').read_text().startswith('PATH ')
