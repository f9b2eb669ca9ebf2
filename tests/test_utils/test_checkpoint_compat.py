"""Checkpoints written by an mmengine Runner load under torch's weights_only default."""
import os
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from torch import nn
from torch.utils.data import Dataset

import mmcyclic  # noqa: F401  (installs the loader)
from mmcyclic.utils.checkpoint_compat import TRUST_ENV


@MODELS.register_module(force=True)
class CompatToyModel(BaseModel):
    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=((out.squeeze(-1) - torch.stack(labels)) ** 2).mean())
        return out


@DATASETS.register_module(force=True)
class CompatToyDataset(Dataset):
    metainfo = dict(classes=('x', ))

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)), labels=torch.tensor(float(idx % 2)))


def _runner_cfg(work_dir, max_epochs, **overrides):
    cfg = dict(
        model=dict(type='CompatToyModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=dict(type='CompatToyDataset'),
                              sampler=dict(type='DefaultSampler', shuffle=True), batch_size=4,
                              num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1), logger=None),
        default_scope='mmengine',
        experiment_name=f'compat_{os.path.basename(str(work_dir))}_{max_epochs}_{len(overrides)}',
        randomness=dict(seed=0))
    cfg.update(overrides)
    return cfg


def test_resume_and_load_from_runner_checkpoint(tmp_path):
    runner = Runner(**_runner_cfg(tmp_path / 'a', max_epochs=2))
    runner.train()
    ckpt = tmp_path / 'a' / 'epoch_2.pth'
    assert ckpt.is_file()
    # The raw torch default refuses this file: that is the bug being fixed.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, weights_only=True)

    resumed = Runner(**_runner_cfg(tmp_path / 'a', max_epochs=3, resume=True))
    resumed.train()
    assert resumed.train_loop.epoch == 3
    assert resumed.message_hub.get_scalar('train/loss') is not None

    loaded = Runner(**_runner_cfg(tmp_path / 'b', max_epochs=1, load_from=str(ckpt)))
    loaded.train()

    state = _load_checkpoint(str(ckpt), map_location='cpu')
    init = MODELS.build(dict(type='CompatToyModel',
                             init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))))
    init.init_weights()
    assert torch.equal(init.linear.weight, state['state_dict']['linear.weight'])


class _Untrusted:
    pass


def test_unknown_globals_are_refused_with_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _Untrusted()}, path)
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(RuntimeError, match=r'evil\.pth.*_Untrusted.*MMCYCLIC_TRUST_CHECKPOINTS'):
        CheckpointLoader.load_checkpoint(str(path))
    monkeypatch.setenv(TRUST_ENV, '1')
    assert isinstance(CheckpointLoader.load_checkpoint(str(path))['payload'], _Untrusted)


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch):
    """A save that dies mid-write leaves the previous file intact."""
    from mmengine.runner.checkpoint import save_checkpoint
    path = tmp_path / 'ckpt.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}}, str(path))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    import mmcyclic.utils.atomic as atomic
    monkeypatch.setattr(atomic.os, 'fsync', boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(2)}}, str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pth']
