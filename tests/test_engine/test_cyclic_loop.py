"""CyclicLoop end to end on tiny synthetic data: layout, weight sharing, resume, 2 processes."""
import json
import subprocess

import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

import mmcyclic  # noqa: F401
from cyclic_test_utils import (REPO, dist_launch_env, register_kill_hook, simulated_tiles,
                               small_cyclic_cfg)
from mmcyclic.seeds import read_seed_set

pytestmark = pytest.mark.slow


KILL_HOOK = register_kill_hook()


def _weights(path, prefix):
    state = _load_checkpoint(str(path), map_location='cpu')['state_dict']
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.fixture(scope='module')
def tiles(tiny_synthetic, tmp_path_factory):
    return simulated_tiles(tiny_synthetic, tmp_path_factory.mktemp('tiles') / 'tiles')


@pytest.fixture(scope='module')
def bilateral_run(tiny_synthetic, tiles, tmp_path_factory):
    """Two uninterrupted bilateral cycles; other tests compare against it."""
    work = tmp_path_factory.mktemp('cyclic') / 'bilateral'
    _train(small_cyclic_cfg(tiny_synthetic, tiles, work, experiment_name='cyc_bilateral'))
    return work


def test_layout_summary_and_bilateral_transfer(bilateral_run):
    work = bilateral_run
    for cycle in (1, 2):
        c = work / f'cycle_{cycle}'
        for name in ('classifier/classifier.pth', 'seeds.json', 'teacher/checkpoint.pth',
                     'student_1/checkpoint.pth', 'student_1/union.json', 'self_training.json',
                     'best_student.pth'):
            assert (c / name).is_file(), (cycle, name)
        assert read_seed_set(c / 'seeds.json')['info']['cycle'] == cycle
        assert (c / 'seed_quality.json').is_file()  # the images have ground truth
    assert (work / 'summary.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert (work / 'best_student.pth').is_file()
    summary = json.loads((work / 'summary.json').read_text())
    assert [c['cycle'] for c in summary['cycles']] == [1, 2]
    for row in summary['cycles']:
        assert [p['name'] for p in row['phases']] == ['teacher', 'student_1']
        assert row['selected'] == 'student_1'
        assert 0 <= row['dice'] <= 1 and 0 <= row['classifier_f1'] <= 1
        assert row['seed_precision'] is None or 0 <= row['seed_precision'] <= 1

    # Bilateral: cycle 2's classifier = cycle 1's classifier with the best student's backbone.
    init = work / 'cycle_2' / 'classifier' / 'init.pth'
    student = _weights(work / 'cycle_1' / 'best_student.pth', 'backbone.')
    classifier_1 = _weights(work / 'cycle_1' / 'classifier' / 'classifier.pth', '')
    init_backbone = _weights(init, 'backbone.')
    assert init_backbone.keys() == student.keys()
    for key, value in init_backbone.items():
        assert torch.equal(value, student[key]), key
    assert any(not torch.equal(student[k], classifier_1[f'backbone.{k}']) for k in student)
    for key, value in _weights(init, 'head.').items():
        assert torch.equal(value, classifier_1[f'head.{key}'])


def test_unilateral_sends_no_weights_back(tiny_synthetic, tiles, tmp_path):
    work = tmp_path / 'unilateral'
    _train(small_cyclic_cfg(tiny_synthetic, tiles, work, mode='unilateral',
                            experiment_name='cyc_unilateral'))
    init = _weights(work / 'cycle_2' / 'classifier' / 'init.pth', '')
    classifier_1 = _weights(work / 'cycle_1' / 'classifier' / 'classifier.pth', '')
    assert init.keys() == classifier_1.keys()
    assert all(torch.equal(init[k], classifier_1[k]) for k in init)
    assert json.loads((work / 'summary.json').read_text())['cycles'][1]['mode'] == 'unilateral'


def _metrics(work):
    summary = json.loads((work / 'summary.json').read_text())
    return [(c['cycle'], c['seeds'], c['classifier_f1'],
             [(p['name'], p['dice'], p['aji']) for p in c['phases']]) for c in summary['cycles']]


def test_killed_run_resumes_and_ends_like_the_uninterrupted_one(tiny_synthetic, tiles, tmp_path,
                                                                bilateral_run):
    work = tmp_path / 'killed'
    # Global epochs: cycle 1 = 0 (teacher), 1 (student); cycle 2 = 2, 3. Kill in cycle 2's
    # student, after its classifier, seeds and teacher are done.
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, work, experiment_name='cyc_killed')
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type=KILL_HOOK, epoch=3)]
    with pytest.raises(KeyboardInterrupt):
        _train(cfg)
    state = json.loads((work / 'cyclic_state.json').read_text())
    assert len(state['cycles']) == 1 and set(state['units']['2']) == {'classifier', 'seeds'}
    classifier_mtime = (work / 'cycle_2' / 'classifier' / 'classifier.pth').stat().st_mtime
    teacher_mtime = (work / 'cycle_2' / 'teacher' / 'checkpoint.pth').stat().st_mtime

    cfg = small_cyclic_cfg(tiny_synthetic, tiles, work, experiment_name='cyc_resumed')
    cfg.resume = True
    runner = _train(cfg)
    assert (work / 'cycle_2' / 'classifier' / 'classifier.pth').stat().st_mtime == classifier_mtime
    assert (work / 'cycle_2' / 'teacher' / 'checkpoint.pth').stat().st_mtime == teacher_mtime
    assert runner.train_loop.epoch == 4
    assert _metrics(work) == _metrics(bilateral_run)


def test_two_processes_share_seeds_and_match_one_process(tiny_synthetic, tiles, tmp_path,
                                                         bilateral_run):
    # Half the batch per process: the same samples per step as the 1-process run.
    work = tmp_path / 'two_proc'
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, work, classifier_batch=8, max_cycles=1,
                           experiment_name='cyc_two_proc')
    cfg.train_dataloader.batch_size = 1
    config = tmp_path / 'cyclic_two_proc.py'
    cfg.dump(str(config))
    env = dist_launch_env()
    proc = subprocess.run(['bash', 'tools/dist_train.sh', str(config), '2'], cwd=REPO,
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = json.loads((bilateral_run / 'summary.json').read_text())['cycles'][0]
    two = json.loads((work / 'summary.json').read_text())['cycles']
    assert len(two) == 1
    # Seeds are extracted once, by rank 0 of the 2 processes, and used by both ranks.
    info = read_seed_set(work / 'cycle_1' / 'seeds.json')['info']
    assert (info['world_size'], info['extracted_by_rank']) == (2, 0)
    assert two[0]['seeds'] == info['num_seeds']
    # Within noise of the 1-process run: the same samples per optimizer step, but BatchNorm
    # statistics over half the batch.
    assert abs(two[0]['classifier_f1'] - one['classifier_f1']) < 0.1
    assert abs(two[0]['seeds'] - one['seeds']) <= max(2, 0.3 * one['seeds'])
    for mine, theirs in zip(two[0]['phases'], one['phases']):
        assert mine['name'] == theirs['name']
        assert abs(mine['dice'] - theirs['dice']) < 0.25, (mine, theirs)
