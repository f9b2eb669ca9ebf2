"""Config loading: clear errors for missing files and misspelt keys."""
import pytest

from mmcyclic.utils.config import ConfigError, find_misspelt_keys, load_config


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
