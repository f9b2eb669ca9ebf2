"""A tiny model and dataset for tests that need a real mmengine ``Runner`` but no training cost.

Importing this module registers ``MMCyclicToyModel`` (mmengine ``MODELS``) and
``MMCyclicToyDataset`` (mmengine ``DATASETS``); the mmdet registries find them
through their parent, so a runner in scope ``mmdet`` builds them by name.
"""
import itertools
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from torch import nn
from torch.utils.data import Dataset

_names = itertools.count()


@MODELS.register_module(force=True)
class MMCyclicToyModel(BaseModel):
    """``head(backbone(x))`` on 2-D points, with a ``backbone`` as the cyclic ends share.

    ``mode='loss'`` returns the squared error to the targets, ``'predict'`` and
    ``'tensor'`` the outputs.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor)
        self.backbone = nn.Linear(2, 2)
        self.head = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """See the class docstring."""
        x = torch.stack(inputs) if isinstance(inputs, (list, tuple)) else inputs
        out = self.head(self.backbone(x)).squeeze(1)
        if mode == 'loss':
            target = torch.stack(list(data_samples)).to(out)
            return dict(loss=((out - target)**2).mean())
        return out


@DATASETS.register_module(force=True)
class MMCyclicToyDataset(Dataset):
    """``size`` fixed random 2-D points with targets; ``data_root`` is only stored
    (loops read it from the dataloader config)."""

    METAINFO: Dict[str, Any] = dict()

    def __init__(self, data_root: str = '', size: int = 6) -> None:
        self.data_root = data_root
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(size, 2, generator=generator)
        self.targets = self.inputs.sum(dim=1)

    @property
    def metainfo(self) -> Dict[str, Any]:
        """Empty dataset meta (what mmengine asks a dataset for)."""
        return dict(self.METAINFO)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return dict(inputs=self.inputs[index], data_samples=self.targets[index])


def toy_runner_cfg(work_dir: str, data_root: str = '', max_epochs: int = 2,
                   custom_hooks: Optional[List[dict]] = None, **overrides) -> Config:
    """A config for ``Runner.from_cfg``: the toy model on the toy dataset, SGD, CPU, quiet.

    Args:
        work_dir: The runner's work folder.
        data_root: The toy dataset's ``data_root`` (what the cyclic loop reads).
        max_epochs: Epochs of the default epoch-based train loop.
        custom_hooks: Hook configs.
        **overrides: Top-level config keys to replace (e.g. ``train_cfg``, ``resume``).

    Every call has its own ``experiment_name``: mmengine keeps loggers and
    message hubs by name, and two runners must not share them.
    """
    cfg = Config(dict(
        model=dict(type='MMCyclicToyModel'),
        work_dir=str(work_dir),
        experiment_name=f'mmcyclic_toy_{next(_names)}',
        default_scope='mmdet',
        train_dataloader=dict(
            dataset=dict(type='MMCyclicToyDataset', data_root=str(data_root)),
            sampler=dict(type='DefaultSampler', shuffle=True), batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1000),
                           logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=list(custom_hooks or []),
        randomness=dict(seed=0),
        log_level='WARNING'))
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


def train_runner(cfg: Config, *hooks):
    """``Runner.from_cfg(cfg)``, with ``hooks`` (instances, so a test keeps references to
    what they record) registered at the lowest priority, trained; returns the runner."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    for hook in hooks:
        runner.register_hook(hook, priority='LOWEST')
    runner.train()
    return runner
