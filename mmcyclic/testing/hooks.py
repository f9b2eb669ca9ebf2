"""Hooks that make multi-process behaviour observable in tests."""
import hashlib
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


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
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        path = osp.join(runner.work_dir, f'weights_epoch{runner.epoch}_rank{get_rank()}.sha256')
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(parameter_digest(model))
