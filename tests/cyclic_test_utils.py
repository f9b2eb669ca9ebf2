"""Helpers shared by the tests (a module of its own: every test folder has a conftest)."""
import os
import socket
import sys
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[1]


def dist_launch_env() -> Dict[str, str]:
    """Environment for tools/dist_train.sh: this Python and a port nothing listens on.

    The port comes from the OS (bind to port 0) rather than from a formula, so
    two launches, or another job on the machine, never share a rendezvous port.
    """
    return dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def as_label_set_model(model_cfg):
    """``model_cfg`` (a Mask R-CNN config) merged with the weak configs' ``label_set_model``."""
    from mmengine.config import Config
    weak = Config.fromfile(str(REPO / 'configs' / '_base_' / 'weak_supervision.py'))
    merged = Config(dict(model=model_cfg))
    merged.merge_from_dict(dict(model=weak.label_set_model))
    return merged.model


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


def simulated_tiles(data_root: Path, out: Path) -> Path:
    """Simulated 32 px image-level tiles of a synthetic dataset (for tiny classifiers)."""
    from mmcyclic.datasets.simulated_tiles import simulate_tile_labels
    if not (out / 'train.csv').is_file():
        simulate_tile_labels(str(data_root), str(out), tile_size=32, stride=8, val_images=1,
                             max_per_class=64, seed=0)
    return out


def small_cyclic_cfg(data_root: Path, tiles: Path, work_dir: Path, *, classifier_batch: int = 16,
                     experiment_name: str = 'cyclic_test', **loop):
    """A CyclicLoop config with a ResNet-18 at both ends, sized for tests (tens of seconds)."""
    from mmengine.config import Config
    cfg = small_detector_cfg(data_root, work_dir)
    cyclic = Config.fromfile(str(REPO / 'configs' / 'cyclic_r18_synthetic.py'))
    cfg.model = as_label_set_model(cfg.model)
    cfg.optim_wrapper = cyclic.optim_wrapper
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)]
    cfg.default_hooks.checkpoint = cyclic.default_hooks.checkpoint
    cfg.custom_hooks = cyclic.custom_hooks
    cfg.val_evaluator = cyclic.val_evaluator  # the weak configs score from 0.05
    tile_loader = dict(batch_size=classifier_batch, num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=str(tiles) + '/'))
    classifier_options = dict(
        train_dataloader=tile_loader, val_dataloader=tile_loader, test_dataloader=tile_loader,
        train_cfg=dict(max_epochs=1), param_scheduler=[], log_level='WARNING',
        default_hooks=dict(logger=dict(interval=1)))
    cfg.train_cfg = dict(
        type='CyclicLoop',
        classifier=dict(config=str(REPO / 'configs' / 'classifier_r18_synthetic.py'),
                        cfg_options=classifier_options),
        max_cycles=2, mode='bilateral',
        self_training=dict(num_students=1, teacher_epochs=1, student_epochs=1, score_thr=0.05),
        # The paper recipe: the tiny 96 px test images have few nuclei of the demo's size.
        seeds=dict(tile_size=64, min_overlap=16, batch_size=4, keep_relevance=True,
                   recipe=dict(preset='paper')))
    cfg.train_cfg.update(loop)
    cfg.experiment_name = experiment_name
    return cfg


def register_kill_hook() -> str:
    """Register (once) a hook that simulates ``kill`` when a given global epoch starts."""
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    class KillAtEpochHook(Hook):
        def __init__(self, epoch: int):
            self.epoch = epoch

        def before_train_epoch(self, runner):
            if runner.epoch == self.epoch:
                raise KeyboardInterrupt('simulated kill')

    HOOKS.register_module(module=KillAtEpochHook, force=True)
    return 'KillAtEpochHook'
