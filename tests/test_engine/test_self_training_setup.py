"""SelfTrainingLoop construction: checks its inputs, writes nothing until it is used, then once."""
import json
import os
from pathlib import Path

import pytest
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.datasets.label_sets import subsample_ground_truth

from cyclic_test_utils import as_label_set_model, small_detector_cfg


def _loop(data_root, work_dir, seed_file, label_sets=True):
    cfg = small_detector_cfg(data_root, work_dir, type='SelfTrainingLoop', seed_file=str(seed_file),
                             num_students=1, teacher_epochs=1, student_epochs=1)
    if label_sets:
        cfg.model = as_label_set_model(cfg.model)
    return Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)


def test_a_model_without_label_sets_is_refused_naming_the_label_set_models(tiny_synthetic,
                                                                           tmp_path):
    """A plain detector would ignore the α the loop sets (every phase = the teacher's loss)."""
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 2)
    seeds.save(tmp_path / 'seeds.json')
    with pytest.raises(TypeError, match='model.type is MaskRCNN.*LabelSetKGInstance'):
        _loop(tiny_synthetic, tmp_path / 'work', tmp_path / 'seeds.json', label_sets=False)


def test_constructing_the_loop_writes_no_file_and_the_first_dataloader_access_does(
        tiny_synthetic, tmp_path):
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 2)
    seeds.save(tmp_path / 'seeds.json')
    loop = _loop(tiny_synthetic, tmp_path / 'work', tmp_path / 'seeds.json')
    out = tmp_path / 'work' / 'self_training'
    assert not out.exists() or not any(out.rglob('*'))
    assert len(loop.dataloader) > 0   # the Runner's first access, before run()
    assert (out / 'training_patches.json').is_file()
    assert (out / 'teacher' / 'train_patches.json').is_file()


def test_a_seed_file_without_seeds_fails_at_construction_naming_the_file(tiny_synthetic, tmp_path):
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 2)
    seeds.annotations = []
    seeds.save(tmp_path / 'empty.json')
    with pytest.raises(ValueError, match='empty.json: the seed set holds no seed'):
        _loop(tiny_synthetic, tmp_path / 'work', tmp_path / 'empty.json')


def test_the_training_patches_and_teacher_files_are_written_once(tiny_synthetic, tmp_path,
                                                                 monkeypatch):
    """The Runner's first dataloader access writes them and the teacher phase trains on those
    files (before: the teacher phase wrote all four again)."""
    seeds = subsample_ground_truth(tiny_synthetic / 'annotations' / 'instances_train_full.json', 2)
    seeds.save(tmp_path / 'seeds.json')
    replaced = []
    real_replace = os.replace

    def recording_replace(src, dst, *args, **kwargs):
        replaced.append(Path(dst))   # every atomic write ends in os.replace
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, 'replace', recording_replace)
    # selection='agreement': the teacher alone is no candidate, so its 1-epoch Dice is not judged.
    cfg = small_detector_cfg(tiny_synthetic, tmp_path / 'work', type='SelfTrainingLoop',
                             seed_file=str(tmp_path / 'seeds.json'), num_students=0,
                             teacher_epochs=1, selection='agreement')
    cfg.model = as_label_set_model(cfg.model)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False)
    # Seconds, not a minute: two patches, few proposals.
    cfg.train_dataloader.dataset.indices = 2
    cfg.model.test_cfg.rpn.update(nms_pre=50, max_per_img=20)
    cfg.model.test_cfg.rcnn.max_per_img = 5
    Runner.from_cfg(cfg).train()
    out = tmp_path / 'work' / 'self_training'
    for name in ('training_patches.json', 'teacher/M.json', 'teacher/union.json',
                 'teacher/train_patches.json'):
        assert replaced.count(out / name) == 1, (name, replaced.count(out / name))
    assert [p['name'] for p in json.loads((out / 'state.json').read_text())['phases']] == [
        'teacher']
