"""Helpers shared by the tests (a module of its own: every test folder has a conftest)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
