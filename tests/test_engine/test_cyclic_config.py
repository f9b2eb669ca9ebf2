"""The cyclic loop's config is checked when the loop is built, before any work (fast)."""
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.engine import CyclicLoop
from mmcyclic.engine.backbone_match import BackboneMismatch, check_backbones_match
from mmcyclic.utils.config import ConfigError

from cyclic_test_utils import REPO, simulated_tiles, small_cyclic_cfg


@pytest.fixture(scope='module')
def tiles(tiny_synthetic, tmp_path_factory):
    return simulated_tiles(tiny_synthetic, tmp_path_factory.mktemp('tiles') / 'tiles')


@pytest.mark.parametrize('where,override,message', [
    ('self_training', dict(num_studnets=1), 'train_cfg.self_training.num_studnets: unknown key '
                                            '(did you mean "num_students"?)'),
    ('seeds', dict(keep_relevence=True), 'did you mean "keep_relevance"'),
    ('recipe', dict(theta=0.3), 'train_cfg.seeds.recipe.theta: unknown key'),
    ('recipe', dict(threshold=1.5), 'train_cfg.seeds.recipe'),
    ('mode', 'bilaterel', 'train_cfg.mode must be one of'),
])
def test_method_keys_are_checked_before_any_work(tiny_synthetic, tiles, tmp_path, where,
                                                 override, message):
    """Issue 19 item 2: a misspelt key or bad recipe value stops the run when the loop is built,
    naming the key (before the fix: a TypeError after the classifier had trained)."""
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, tmp_path / 'w', experiment_name=f'keys_{where}')
    if where == 'recipe':
        cfg.train_cfg.seeds.recipe = override
    elif where == 'mode':
        cfg.train_cfg.mode = override
    else:
        cfg.train_cfg[where].update(override)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigError, match=re.escape(message)):
        runner.build_train_loop(cfg.train_cfg)
    assert not (tmp_path / 'w' / 'cycle_1').exists()


def test_recipe_override_merges_with_the_classifier_recipe(tiny_synthetic, tiles, tmp_path):
    """seeds.recipe.selection=score keeps the classifier config's other recipe keys."""
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, tmp_path / 'w', experiment_name='merge')
    cfg.train_cfg.classifier.cfg_options['seed_recipe'] = dict(threshold=0.2, max_seeds=7)
    cfg.train_cfg.seeds.recipe = dict(selection='score')
    loop = Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)
    recipe = loop.seeds.recipe.config
    assert (recipe.threshold, recipe.max_seeds, recipe.selection) == (0.2, 7, 'score')


@pytest.mark.parametrize('where,override,message', [
    ('self_training', dict(score_thr=1.5), 'train_cfg.self_training.score_thr must be a number '
                                           'in [0, 1], got 1.5'),
    ('self_training', dict(score_thr=-0.2), 'train_cfg.self_training.score_thr'),
    ('self_training', dict(num_students=-1), 'train_cfg.self_training.num_students must be an '
                                             'integer >= 0, got -1'),
    ('self_training', dict(alpha=1.2), 'train_cfg.self_training.alpha'),
    ('self_training', dict(union_iou_thr=0), 'train_cfg.self_training.union_iou_thr must be a '
                                             'number in (0, 1]'),
    ('self_training', dict(teacher_epochs=2.5), 'train_cfg.self_training.teacher_epochs must '
                                                'be an integer'),
    ('self_training', dict(student_epochs=True), 'train_cfg.self_training.student_epochs'),
    ('loop', dict(max_cycles=0), 'train_cfg.max_cycles must be an integer >= 1, got 0'),
])
def test_thresholds_and_counts_are_range_checked_first(where, override, message):
    """Issue 27 item 4: score_thr 1.5 or -0.2 started training; num_students=-1 was reported
    as a scheduler error. The constructor checks them before it uses the runner."""
    loop = dict(dataloader={}, classifier=dict(config='classifier.py'),
                self_training=dict(override if where == 'self_training' else {}))
    loop.update(override if where == 'loop' else {})
    with pytest.raises(ConfigError, match=re.escape(message)):
        CyclicLoop(None, **loop)


@pytest.mark.slow
def test_a_threshold_out_of_range_stops_the_cycle_when_it_is_built(tiny_synthetic, tiles,
                                                                   tmp_path):
    """The same through the Runner (the seeds' values too), before any work."""
    for where, override, message in (('self_training', dict(score_thr=1.5),
                                      'train_cfg.self_training.score_thr'),
                                     ('seeds', dict(batch_size=0),
                                      'train_cfg.seeds.batch_size must be an integer >= 1')):
        cfg = small_cyclic_cfg(tiny_synthetic, tiles, tmp_path / 'w', experiment_name=where)
        cfg.train_cfg[where].update(override)
        with pytest.raises(ConfigError, match=re.escape(message)):
            Runner.from_cfg(cfg).build_train_loop(cfg.train_cfg)
    assert not (tmp_path / 'w' / 'cycle_1').exists()


def _backbones(classifier_backbone):
    """The demo detector's built backbone (in a stand-in model), its config and the demo
    classifier config with ``classifier_backbone`` merged."""
    from mmpretrain.registry import MODELS
    detector_cfg = Config.fromfile(str(REPO / 'configs' / 'cyclic_r18_synthetic.py'))
    backbone_cfg = dict(detector_cfg.model.backbone)
    detector = torch.nn.Module()
    detector.backbone = MODELS.build(dict(backbone_cfg, type='ResNet'))
    classifier_cfg = Config.fromfile(str(REPO / 'configs' / 'classifier_r18_synthetic.py'))
    classifier_cfg.merge_from_dict(dict(model=dict(backbone=classifier_backbone)))
    return detector, backbone_cfg, classifier_cfg


@pytest.mark.parametrize('classifier_backbone,message', [
    (dict(depth=50), 'depth: detector 18, classifier 50'),
    (dict(avg_down=False), 'avg_down: detector True, classifier False'),
    (dict(base_channels=32), 'base_channels: detector 64, classifier 32'),
    (dict(_delete_=True, type='SwinTransformer', arch='tiny'),
     'type: detector mmpretrain.models.backbones.resnet.ResNet, classifier '
     'mmpretrain.models.backbones.swin_transformer.SwinTransformer'),
])
def test_backbones_that_cannot_share_weights_are_named(classifier_backbone, message):
    detector, backbone_cfg, classifier_cfg = _backbones(classifier_backbone)
    with pytest.raises(BackboneMismatch, match=re.escape(message)) as caught:
        check_backbones_match(detector, backbone_cfg, classifier_cfg, 'configs/c.py')
    assert 'configs/c.py' in str(caught.value) and "mode='seeds_only'" in str(caught.value)


def test_the_demo_ends_match():
    check_backbones_match(*_backbones({}), 'configs/classifier_r18_synthetic.py')


def test_a_shape_no_argument_explains_is_still_found():
    """The backstop: tensors of one name with different shapes (here the stem's width)."""
    detector, backbone_cfg, classifier_cfg = _backbones({})
    detector.backbone.conv1 = torch.nn.Conv2d(3, 8, 7)
    with pytest.raises(BackboneMismatch, match=r'tensor shapes.*conv1.weight \(8, 3, 7, 7\)'):
        check_backbones_match(detector, backbone_cfg, classifier_cfg, 'configs/c.py')


@pytest.mark.slow
def test_ends_of_different_depth_fail_when_the_cycle_is_built(tiny_synthetic, tiles, tmp_path):
    """Issue 27 item 2: ends of different depth failed after the whole cycle-1 classifier and
    seed extraction (298 s on a tiny run); seeds_only shares no weights, so it may mix them."""
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, tmp_path / 'w', experiment_name='backbones')
    cfg.train_cfg.classifier.cfg_options['model'] = dict(backbone=dict(depth=50))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(BackboneMismatch, match='depth: detector 18, classifier 50'):
        runner.build_train_loop(cfg.train_cfg)
    assert not (tmp_path / 'w' / 'cycle_1').exists()
    cfg.train_cfg.mode = 'seeds_only'
    runner.build_train_loop(cfg.train_cfg)
