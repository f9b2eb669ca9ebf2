"""SelfTrainingLoop construction: checks its inputs, writes nothing until it is used, then once."""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.datasets.label_sets import subsample_ground_truth
from mmcyclic.engine import SelfTrainingLoop
from mmcyclic.engine.round_files import RoundFiles, SeedFileError
from mmcyclic.utils.config import ConfigError

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


def _gt_seeds(data_root, path):
    seeds = subsample_ground_truth(data_root / 'annotations' / 'instances_train_full.json', 2)
    seeds.save(path)
    return seeds


def _round_files(data_root, seed_file, out_dir):
    dataloader = dict(dataset=dict(data_root=str(data_root),
                                   ann_file='annotations/instances_train.json'))
    return RoundFiles(dataloader, str(seed_file), str(out_dir), union_iou_thr=0.5)


@pytest.mark.parametrize('override,message', [
    (dict(score_thr=1.5), 'train_cfg.score_thr must be a number in [0, 1], got 1.5'),
    (dict(num_students=-1), 'train_cfg.num_students must be an integer >= 0, got -1'),
    (dict(alpha=-0.1), 'train_cfg.alpha must be a number in [0, 1]'),
    (dict(merge_iou=1.01), 'train_cfg.merge_iou must be a number in (0, 1]'),
    (dict(selection='dice'), "train_cfg.selection must be 'val_dice' or 'agreement'"),
])
def test_values_out_of_range_fail_first_naming_the_key(override, message):
    """Issue 27 item 4: the constructor checks them before it uses the runner."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        SelfTrainingLoop(None, {}, 'seeds.json', **override)


def test_seeds_on_no_training_image_are_refused_with_the_counts(tiny_synthetic, tmp_path):
    """Issue 27 item 5: names that match no training image died with 'need at least one array
    to concatenate'."""
    seeds = _gt_seeds(tiny_synthetic, tmp_path / 'seeds.json')
    for image in seeds.images:
        image['source_id'] = f'other_{image["source_id"]}'
    seeds.save(tmp_path / 'renamed.json')
    with pytest.raises(SeedFileError) as caught:
        _round_files(tiny_synthetic, tmp_path / 'renamed.json', tmp_path / 'out')
    message = str(caught.value)
    assert 'renamed.json: none of its' in message
    assert f'0 of its {len(seeds.images)} images match a training image' in message
    assert 'other_' in message and 'instances_train_full.json' in message
    _round_files(tiny_synthetic, tmp_path / 'seeds.json', tmp_path / 'out')  # the original is fine


def test_seeds_whose_masks_are_all_empty_are_refused_with_the_counts(tiny_synthetic, tmp_path):
    from pycocotools import mask as mask_utils
    seeds = _gt_seeds(tiny_synthetic, tmp_path / 'seeds.json')
    for ann in seeds.annotations:
        height, width = ann['segmentation']['size']
        rle = mask_utils.encode(np.zeros((height, width), np.uint8, order='F'))
        ann['segmentation'] = dict(size=[height, width], counts=rle['counts'].decode('ascii'))
    seeds.save(tmp_path / 'empty_masks.json')
    with pytest.raises(SeedFileError,
                       match=rf'and 0 of the {len(seeds.annotations)} seeds on them have a '
                             'non-empty mask'):
        _round_files(tiny_synthetic, tmp_path / 'empty_masks.json', tmp_path / 'out')


def test_an_empty_seed_file_says_it_is_empty(tiny_synthetic, tmp_path):
    (tmp_path / 'zero.json').write_bytes(b'')
    with pytest.raises(ValueError, match=r'zero.json: the file is empty \(0 bytes\)'):
        _round_files(tiny_synthetic, tmp_path / 'zero.json', tmp_path / 'out')
