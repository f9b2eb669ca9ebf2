"""SelfTrainingLoop construction: checks its inputs, writes nothing until it is used."""
import pytest
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.datasets.label_sets import subsample_ground_truth

from cyclic_test_utils import as_label_set_model, small_detector_cfg


def _loop(data_root, work_dir, seed_file):
    cfg = small_detector_cfg(data_root, work_dir, type='SelfTrainingLoop', seed_file=str(seed_file),
                             num_students=1, teacher_epochs=1, student_epochs=1)
    cfg.model = as_label_set_model(cfg.model)
    return Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)


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
