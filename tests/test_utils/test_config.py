"""Config loading: clear errors for missing files and misspelt keys."""
import pytest

from mmcyclic.utils.config import ConfigError, find_misspelt_keys, load_config

from cyclic_test_utils import REPO


def test_misspelt_runner_key_is_reported_with_a_suggestion(tmp_path):
    cfg = tmp_path / 'typo.py'
    cfg.write_text('trian_cfg = dict(max_epochs=1)\n')
    with pytest.raises(ConfigError, match=r'typo\.py.*"trian_cfg" \(did you mean "train_cfg"\?\)'):
        load_config(str(cfg))


def test_misspelt_key_through_cfg_options(tmp_path):
    cfg = tmp_path / 'ok.py'
    cfg.write_text('train_cfg = dict(max_epochs=1)\n')
    assert load_config(str(cfg)).train_cfg.max_epochs == 1
    with pytest.raises(ConfigError, match='optim_wrapper'):
        load_config(str(cfg), {'optim_wraper.type': 'OptimWrapper'})


def test_missing_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match='nope.py: config file not found'):
        load_config(str(tmp_path / 'nope.py'))


def test_ordinary_config_variables_are_not_flagged():
    assert find_misspelt_keys(['data_root', 'crop_size', 'train_pipeline', 'dataset_type']) == {}
    assert find_misspelt_keys(['val_evalutor']) == {'val_evalutor': 'val_evaluator'}


def test_every_shipped_config_loads():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / 'configs'
    configs = sorted(p for p in root.glob('*.py'))
    assert configs, 'no configs found'
    for path in configs:
        cfg = load_config(str(path))
        assert cfg.custom_imports.imports == ['mmcyclic'], path


def test_misspelt_loop_key_is_refused_when_the_config_loads(tmp_path):
    """Issue 19 item 2: `train_cfg.self_trainng.num_students=1` was a TypeError traceback from
    the loop's constructor."""
    with pytest.raises(ConfigError, match=r'cyclic_r18_synthetic.py: train_cfg.self_trainng: '
                                          r'unknown key \(did you mean "self_training"\?\)'):
        load_config(str(REPO / 'configs' / 'cyclic_r18_synthetic.py'),
                    {'train_cfg.self_trainng.num_students': 1})
    load_config(str(REPO / 'configs' / 'cyclic_r18_synthetic.py'),
                {'train_cfg.self_training.num_students': 1})
