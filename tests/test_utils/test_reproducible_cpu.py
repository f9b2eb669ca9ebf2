"""The demo's environment makes training independent of the machine's cores (issue 27 item 13).

Without it torch runs one thread per available core, and one epoch of the demo detector on
one core gives other weights than on two (docs/results.md, "Reproducibility across machines").
"""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
import torch

from cyclic_test_utils import REPO

pytestmark = pytest.mark.slow


def _one_epoch_weights(data_root, work_dir, cpus: str) -> str:
    """Train one epoch as scripts/demo.sh does (its environment), on ``cpus``; hash the weights."""
    data = [f'{loader}_dataloader.{key}' for loader in ('train', 'val', 'test')
            for key in ('num_workers=0', 'persistent_workers=False',
                        f'dataset.data_root={data_root}/')]
    train = ' '.join(['"$PYTHON"', 'tools/train.py', 'configs/mask_rcnn_r18_synthetic.py',
                      '--work-dir', str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
                      "'train_dataloader.dataset.pipeline.2.crop_size=(64,64)'", *data])
    proc = subprocess.run(['taskset', '-c', cpus, 'bash', '-c',
                           f'source scripts/reproducible_cpu.sh && {train}'],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHON=sys.executable))
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    digest = hashlib.sha256()
    for name in sorted(state['state_dict']):
        digest.update(state['state_dict'][name].numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.skipif(shutil.which('taskset') is None or len(os.sched_getaffinity(0)) < 2,
                    reason='needs taskset and two cores')
def test_one_core_and_two_cores_train_the_same_weights(tiny_synthetic, tmp_path):
    one = _one_epoch_weights(tiny_synthetic, tmp_path / 'one', '0')
    two = _one_epoch_weights(tiny_synthetic, tmp_path / 'two', '0,1')
    assert one == two
