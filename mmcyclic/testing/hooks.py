"""Hooks that make multi-process behaviour observable in tests."""
import hashlib
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmcyclic.engine.loop_state import unwrap
from mmcyclic.utils.atomic import atomic_write_bytes


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter of ``model`` in name order.

    Buffers are left out: BatchNorm running statistics are per rank between
    DDP's buffer broadcasts.
    """
    digest = hashlib.sha256()
    for key, value in model.named_parameters():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class WeightDigestHook(Hook):
    """After every training epoch each rank writes
    ``<work_dir>/weights_epoch<e>_rank<r>.sha256``.

    Data-parallel ranks must hold identical parameters after every epoch; a
    test compares the files.
    """

    priority = 'LOWEST'

    def after_train_epoch(self, runner) -> None:
        path = osp.join(runner.work_dir, f'weights_epoch{runner.epoch}_rank{get_rank()}.sha256')
        atomic_write_bytes(path, parameter_digest(unwrap(runner.model)).encode())
