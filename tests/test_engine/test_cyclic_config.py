"""The cyclic loop's config is checked when the loop is built, before any work (fast)."""
import re

import pytest
from mmengine.runner import Runner

import mmcyclic  # noqa: F401
from mmcyclic.utils.config import ConfigError

from cyclic_test_utils import simulated_tiles, small_cyclic_cfg


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
