"""Shared fixtures: a tiny synthetic dataset on disk and small configs."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def tiny_synthetic(tmp_path_factory) -> Path:
    """6 train / 2 val / 2 test synthetic H&E tiles of 96x96 in the data_format layout."""
    from mmcyclic.datasets.converters.synthetic import convert_synthetic
    out = tmp_path_factory.mktemp('data') / 'synthetic'
    convert_synthetic(out, num_train=6, num_val=2, num_test=2, size=96, seed=3, patch_size=96,
                      progress=False)
    return out


def small_detector_cfg(data_root: Path, work_dir: Path, **train_cfg):
    """The R18 synthetic config shrunk for tests (64 px crops, few proposals)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / 'configs' / 'mask_rcnn_r18_synthetic.py'))
    cfg.work_dir = str(work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root) + '/'
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.dataset.pipeline[2].crop_size = (64, 64)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.log_level = 'WARNING'
    if train_cfg:
        cfg.train_cfg = train_cfg
    return cfg
