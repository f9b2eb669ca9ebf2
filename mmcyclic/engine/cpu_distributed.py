"""Multi-process training without GPUs (gloo).

mmengine 0.10.7 assumes CUDA for the ``pytorch`` launcher: ``init_dist`` calls
``torch.cuda.set_device`` and the default DDP wrapper passes ``device_ids``,
which DDP rejects for CPU modules. On a machine without GPUs the process
group is therefore created here with gloo (mmengine then skips its own
``init_dist``) and the model is wrapped by a DDP subclass without
``device_ids``. With GPUs nothing changes.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU modules (``device_ids`` dropped)."""

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)


def setup_cpu_distributed(cfg) -> bool:
    """Prepare ``cfg`` and the process group for a CPU multi-process run.

    Returns:
        True when a CPU process group was set up.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return False
    if cfg.get('launcher') != 'pytorch':
        raise ValueError(f'launcher {cfg.launcher!r} needs GPUs here; use tools/dist_train.sh '
                         '(launcher "pytorch") for multi-process runs on CPU')
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    wrapper.setdefault('type', 'CPUDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']))
    return True


def shut_down_distributed() -> None:
    """Wait for every rank, then destroy the process group (no-op when not distributed).

    Without this, a rank that finishes first tears gloo down during interpreter
    shutdown while its peers still talk to it; under load that aborts the rank
    ("terminate called without an active exception") after a successful run.
    Call it only after the work succeeded: a rank that raised must not wait here.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
