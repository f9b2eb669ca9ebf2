"""tools/train.py and tools/test.py as a user runs them: train, resume, load_from, test, typo."""
import json
import subprocess
import sys

import pytest

from cyclic_test_utils import REPO, dist_launch_env

pytestmark = pytest.mark.slow


def _run(*args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


def _options(data_root, epochs):
    opts = [f'train_cfg.max_epochs={epochs}', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1',
            'train_dataloader.dataset.pipeline.2.crop_size=(64,64)']
    for loader in ('train', 'val', 'test'):
        opts.append(f'{loader}_dataloader.dataset.data_root={data_root}/')
    return opts


def test_train_resume_and_test(tiny_synthetic, tmp_path):
    config = 'configs/mask_rcnn_r18_synthetic.py'
    work = tmp_path / 'work'
    _run('tools/train.py', config, '--work-dir', str(work), '--cfg-options',
         *_options(tiny_synthetic, 1))
    assert (work / 'epoch_1.pth').is_file()
    proc = _run('tools/train.py', config, '--work-dir', str(work), '--resume',
                '--cfg-options', *_options(tiny_synthetic, 2))
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert (work / 'epoch_2.pth').is_file()
    proc = _run('tools/train.py', config, '--work-dir', str(tmp_path / 'w2'), '--cfg-options',
                f'load_from={work / "epoch_2.pth"}', *_options(tiny_synthetic, 1))
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
    proc = _run('tools/test.py', config, str(work / 'epoch_2.pth'), '--work-dir', str(work),
                '--out-dir', str(tmp_path / 'test_out'), '--cfg-options',
                *_options(tiny_synthetic, 1))
    log = proc.stdout + proc.stderr
    assert 'nuclei/pixel_dice' in log and 'nuclei/aji' in log and 'nuclei/legacy/dice' in log
    assert (tmp_path / 'test_out' / 'nuclei_per_image.csv').is_file()
    metrics = json.loads((tmp_path / 'test_out' / 'metrics.json').read_text())
    assert 0 <= metrics['nuclei/aji'] <= 1 and 'nuclei/pixel_dice' in metrics
    assert len(list((tmp_path / 'test_out' / 'label_maps').glob('*.png'))) == 2


def test_config_key_typo_names_the_file():
    proc = _run('tools/train.py', 'configs/mask_rcnn_r18_synthetic.py', '--cfg-options',
                'trian_cfg.max_epochs=1', check=False)
    assert proc.returncode != 0
    assert 'mask_rcnn_r18_synthetic.py' in proc.stderr and 'did you mean "train_cfg"' in proc.stderr


def test_unknown_type_is_one_line_naming_it():
    """Issue 19 item 2: an unknown backbone type was a raw registry traceback."""
    proc = _run('tools/train.py', 'configs/mask_rcnn_r18_synthetic.py', '--cfg-options',
                'model.backbone.type=mmpretrain.ResNot', check=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR: configs/mask_rcnn_r18_synthetic.py: unknown type '
                           '"mmpretrain.ResNot"'), last
    assert 'Traceback' not in proc.stderr


def test_dist_train_two_cpu_processes(tiny_synthetic, tmp_path):
    env = dist_launch_env()
    work = tmp_path / 'dist'
    proc = subprocess.run(['bash', 'tools/dist_train.sh', 'configs/mask_rcnn_r18_synthetic.py', '2',
                           '--work-dir', str(work), '--cfg-options', *_options(tiny_synthetic, 1)],
                          cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log and 'CPUDistributedDataParallel' in log
    assert (work / 'epoch_1.pth').is_file()
    assert 'nuclei/num_images: 2' in log  # both ranks' val patches were gathered


def test_a_diverged_run_exits_non_zero_with_the_fix(tiny_synthetic, tmp_path):
    """Issue 27 item 1: lr=1e6 without clipping logged `loss: nan` every iteration, exited 0
    and kept the weights as "best"; the guard stops it after 10 unusable steps in a row."""
    proc = _run('tools/train.py', 'configs/mask_rcnn_r18_synthetic.py', '--work-dir',
                str(tmp_path / 'work'), '--cfg-options', *_options(tiny_synthetic, 4),
                'optim_wrapper.optimizer.lr=1e6', 'optim_wrapper.clip_grad=None', check=False)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR: configs/mask_rcnn_r18_synthetic.py: 10 unusable steps in a '
                           'row'), last
    assert 'optim_wrapper.optimizer.lr' in last


def _self_training(data_root, tmp_path, *options):
    """tools/train.py on the self-training config; the seed file is the caller's."""
    opts = [f'train_cfg.seed_file={tmp_path / "seeds.json"}', 'train_cfg.teacher_epochs=1',
            'train_cfg.num_students=0', *options]
    return _run('tools/train.py', 'configs/self_training_r18_synthetic_gt20.py', '--work-dir',
                str(tmp_path / 'work'), '--cfg-options',
                *[o for o in _options(data_root, 1) if 'max_epochs' not in o], *opts,
                check=False)


def test_a_value_out_of_range_is_one_error_line(tiny_synthetic, tmp_path):
    """Issue 27 item 12: alpha out of range was a raw traceback (--debug keeps it:
    tests/test_utils/test_tool_errors.py)."""
    proc = _self_training(tiny_synthetic, tmp_path, 'train_cfg.alpha=1.5')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR: configs/self_training_r18_synthetic_gt20.py: ') and \
        'train_cfg.alpha must be a number in [0, 1], got 1.5' in last, last


def test_an_empty_seed_file_is_one_error_line(tiny_synthetic, tmp_path):
    """Issue 27 item 12: a 0-byte seed file was a raw traceback."""
    (tmp_path / 'seeds.json').write_bytes(b'')
    proc = _self_training(tiny_synthetic, tmp_path)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f'{tmp_path / "seeds.json"}: the file is empty (0 bytes)' in last, last
