"""SelfTrainingLoop end to end on a tiny synthetic dataset: files, counts, resume per phase."""
import json

import pytest
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from cyclic_test_utils import register_kill_hook, small_detector_cfg
from mmcyclic.datasets.label_sets import load_label_set, subsample_ground_truth

pytestmark = pytest.mark.slow


KILL_HOOK = register_kill_hook()


def _cfg(data_root, work_dir, seeds, **extra):
    loop = dict(type='SelfTrainingLoop', seed_file=str(seeds), num_students=2, teacher_epochs=1,
                student_epochs=1, alpha=0.66, score_thr=0.05)
    cfg = small_detector_cfg(data_root, work_dir, **loop)
    cfg.model.type = 'LabelSetMaskRCNN'
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
    assert summary['selected'] in ('student_1', 'student_2')
    assert (out / 'best_student.pth').is_file()
    # The M' a student trains on is what the previous model predicted.
    assert (len(load_label_set(out / 'student_2' / 'M_prime.json').annotations)
            == student_1['num_predicted'])
