"""MMCYCLIC_MMCV_OPS in a fresh process, as a user's command meets it: `import mmcyclic`, and
mmdet's own tools/train.py on a project config (custom_imports). ('auto': test_torchvision_ops.)"""
import os
import subprocess
import sys
from pathlib import Path

import mmdet
import pytest

from cyclic_test_utils import REPO
from mmcv_ext_helpers import compiled_ext_or_none

pytestmark = pytest.mark.slow  # each case starts Python and imports the OpenMMLab stack

COMPILED = compiled_ext_or_none() is not None
REPORT = '''
import sys
import mmcyclic
from mmcyclic.ops import mmcv_ops_backend, torchvision_ext
import mmcv.ops
stand_in = sys.modules['mmcv.ops.roi_align'].ext_module is torchvision_ext
print(mmcv_ops_backend(), 'stand-in' if stand_in else 'compiled-ext')
'''


def _python(args, mode, timeout=300):
    env = dict(os.environ, MMCYCLIC_MMCV_OPS=mode)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_compiled_ops_are_used_or_their_absence_says_how_to_build_them():
    proc = _python(['-c', REPORT], 'compiled')
    if not COMPILED:
        assert proc.returncode != 0
        assert 'MMCYCLIC_MMCV_OPS=compiled make setup' in proc.stderr.strip().splitlines()[-1]
        return
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == 'compiled compiled-ext'


def test_mmdet_s_own_train_tool_runs_a_project_config_on_torchvision_ops(tiny_synthetic, tmp_path):
    """The config's custom_imports (import mmcyclic) come before mmdet builds the model. (Had
    mmcv.ops been imported first, with compiled ops, forcing torchvision's would raise.)"""
    train = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'train.py'
    options = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
               'train_dataloader.dataset.indices=2', 'train_dataloader.batch_size=2',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'train_dataloader.dataset.pipeline.2.crop_size=(64,64)',
               'default_hooks.logger.interval=1']
    options += [f'{loader}_dataloader.dataset.data_root={tiny_synthetic}/'
                for loader in ('train', 'val', 'test')]
    proc = _python([str(train), 'configs/mask_rcnn_r18_synthetic.py', '--work-dir',
                    str(tmp_path), '--cfg-options', *options], 'torchvision', timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert 'loss_mask' in proc.stdout + proc.stderr
