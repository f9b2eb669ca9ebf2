"""SelfTrainingLoop end to end on a tiny synthetic dataset: files, counts, resume per phase."""
import json
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.datasets.label_sets import load_label_set, subsample_ground_truth

from cyclic_test_utils import REPO, as_label_set_model, register_kill_hook, small_detector_cfg

pytestmark = pytest.mark.slow


KILL_HOOK = register_kill_hook()


def _cfg(data_root, work_dir, seeds, **extra):
    loop = dict(type='SelfTrainingLoop', seed_file=str(seeds), num_students=2, teacher_epochs=1,
                student_epochs=1, alpha=0.66, score_thr=0.05)
    cfg = small_detector_cfg(data_root, work_dir, **loop)
    cfg.model = as_label_set_model(cfg.model)
    cfg.optim_wrapper.type = 'SkipNonFiniteOptimWrapper'
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)]
    cfg.merge_from_dict(extra)
    return cfg


def test_teacher_students_files_and_resume_at_the_killed_student(tiny_synthetic, tmp_path):
    seeds_path = tmp_path / 'seeds.json'
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 3)
    # One image without any seed: counted, not fatal.
    empty_id = seeds.images[0]['id']
    seeds.annotations = [a for a in seeds.annotations if a['image_id'] != empty_id]
    seeds.save(seeds_path)

    work = tmp_path / 'work'
    cfg = _cfg(tiny_synthetic, work, seeds_path, experiment_name='st_crash',
               custom_hooks=[dict(type=KILL_HOOK, epoch=2)])  # student_2 = epoch 2
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    out = work / 'self_training'
    state = json.loads((out / 'state.json').read_text())
    assert [p['name'] for p in state['phases']] == ['teacher', 'student_1']
    teacher_ckpt_mtime = (out / 'teacher' / 'checkpoint.pth').stat().st_mtime

    cfg = _cfg(tiny_synthetic, work, seeds_path, experiment_name='st_resume', resume=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (out / 'teacher' / 'checkpoint.pth').stat().st_mtime == teacher_ckpt_mtime
    summary = json.loads((out / 'self_training.json').read_text())
    assert [p['name'] for p in summary['phases']] == ['teacher', 'student_1', 'student_2']
    assert runner.train_loop.epoch == 3
    teacher, student_1, student_2 = summary['phases']
    assert teacher['images_without_M'] == 1 and teacher['weights'] == [1.0, 0.0]
    assert student_1['weights'] == pytest.approx([0.66, 0.34])
    for phase in ('student_1', 'student_2'):
        for name in ('M.json', 'M_prime.json', 'union.json', 'predictions.json', 'checkpoint.pth'):
            assert (out / phase / name).is_file(), (phase, name)
        assert 'val_pixel_dice' in summary['phases'][1] and 'agreement_aji' in summary['phases'][1]
    # M_j = M_{j-1} ∪ M'_j: student_2 trains on student_1's union.
    assert (len(load_label_set(out / 'student_2' / 'M.json').annotations)
            == len(load_label_set(out / 'student_1' / 'union.json').annotations))
    assert load_label_set(out / 'student_1' / 'M.json').info['round'] == 1
    # The best of teacher and students by validation Dice, and its weights are the result.
    dice = {p['name']: p['val_pixel_dice'] for p in summary['phases'] if p['val_pixel_dice']}
    assert summary['selected'] == max(dice, key=dice.__getitem__)
    assert summary['selection_scores']['val_dice'] == pytest.approx(dice)
    assert 'teacher' not in summary['selection_scores']['agreement']  # it has no teacher
    best = torch.load(out / 'best_student.pth', map_location='cpu', weights_only=False)
    chosen = torch.load(out / summary['selected'] / 'checkpoint.pth', map_location='cpu',
                        weights_only=False)
    assert all(torch.equal(best['state_dict'][k], v) for k, v in chosen['state_dict'].items())
    # The M' a student trains on is what the previous model predicted.
    assert (len(load_label_set(out / 'student_2' / 'M_prime.json').annotations)
            == student_1['num_predicted'])


def test_a_diverged_run_stops_with_an_error_naming_phase_and_lr(tiny_synthetic, tmp_path):
    """Issue 19 item 1: lr 1000 -> loss ~1e23 -> before the fix "selected student_1", exit 0."""
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 3)
    seeds.save(tmp_path / 'seeds.json')
    cfg = _cfg(tiny_synthetic, tmp_path / 'work', tmp_path / 'seeds.json',
               experiment_name='st_diverged')
    cfg.optim_wrapper.optimizer.lr = 1000.0
    cfg.optim_wrapper.max_consecutive = 2
    cfg.param_scheduler = []
    config = tmp_path / 'diverged.py'
    cfg.dump(str(config))
    proc = subprocess.run([sys.executable, 'tools/train.py', str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('ERROR:') and 'self-training teacher diverged' in last, last
    assert 'lr 1000' in last and 'Lower the learning rate' in last
    assert not (tmp_path / 'work' / 'self_training' / 'best_student.pth').exists()


def test_m_prime_is_predicted_on_exactly_the_training_patches(tiny_synthetic, tmp_path):
    """With an `indices` budget and a seed-less first image, the patches the phases train on
    are a subset of those M' is predicted on, and those are the budget's patches. (Before the
    fix `indices` picked the first N *seeded* patches for training but the first N patches for
    prediction.)"""
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 3)
    first = seeds.images[0]['id']
    seeds.annotations = [a for a in seeds.annotations if a['image_id'] != first]
    seeds_path = tmp_path / 'seeds.json'
    seeds.save(seeds_path)
    cfg = _cfg(tiny_synthetic, tmp_path / 'work', seeds_path, experiment_name='st_subset')
    cfg.train_dataloader.dataset.indices = 3
    loop = Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)

    def sources(dataset):
        return [dataset.get_data_info(i)['source_id'] for i in range(len(dataset))]

    patch_file = json.loads((tiny_synthetic / 'annotations' / 'instances_train.json').read_text())
    budget = [str(img['source_id']) for img in patch_file['images'][:3]]
    trained = sources(loop.dataloader.dataset)  # the Runner's first access writes the files
    predict_cfg = loop.round_files.predict_dataloader_cfg(cfg.val_dataloader)
    predicted = sources(loop.runner.build_dataloader(predict_cfg).dataset)
    assert predicted == budget
    assert trained and set(trained) <= set(predicted)
    assert str(patch_file['images'][0]['source_id']) not in trained  # no seed there


def test_an_empty_m_prime_stops_the_run_naming_threshold_and_highest_score(tiny_synthetic,
                                                                           tmp_path):
    """Issue 24 item 4: a threshold above every score the teacher gives used to leave M' empty
    and train the students on M alone, with a warning only."""
    from mmcyclic.engine.self_training_loop import EmptyPseudoLabels
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 3)
    seeds.save(tmp_path / 'seeds.json')
    cfg = _cfg(tiny_synthetic, tmp_path / 'work', tmp_path / 'seeds.json', num_students=1,
               experiment_name='st_empty_m_prime')
    cfg.train_cfg.score_thr = 0.9999
    with pytest.raises(EmptyPseudoLabels, match=r'score >= 0.9999 .*highest score seen: 0\.\d+'):
        Runner.from_cfg(cfg).train()
    state = tmp_path / 'work' / 'self_training' / 'state.json'
    assert not state.exists() or not json.loads(state.read_text())['phases']
    # Opted out, the same run trains the student on M alone.
    cfg = _cfg(tiny_synthetic, tmp_path / 'work2', tmp_path / 'seeds.json', num_students=1,
               experiment_name='st_empty_m_prime_allowed', allow_empty_pseudo_labels=True)
    cfg.train_cfg.score_thr = 0.9999
    Runner.from_cfg(cfg).train()
    summary = json.loads((tmp_path / 'work2' / 'self_training' / 'self_training.json').read_text())
    assert [p['num_M_prime'] for p in summary['phases']] == [0, 0]
