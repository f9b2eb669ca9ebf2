"""What the resumable loops share: their state file, weight snapshots, the bare model.

Both :class:`~mmcyclic.engine.CyclicLoop` and
:class:`~mmcyclic.engine.SelfTrainingLoop` record finished units in a JSON file
(``cyclic_state.json``, ``state.json``) and keep weight snapshots
(``initial_weights.pth``). Rank 0 writes, atomically; every rank waits at a
barrier, so no rank reads a file that another has not finished.
"""
import json
import os
import os.path as osp
from typing import Any, Callable, Dict, Sequence

import torch
from mmengine.dist import barrier, get_rank
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint

from mmcyclic.utils.atomic import atomic_write_json


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP (or other mmengine) wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


def read_json(path: str) -> Any:
    """Parse a JSON file."""
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def save_weights(runner, path: str) -> None:
    """Rank 0 saves the runner's model weights (no optimizer) to ``path``; all ranks wait."""
    if get_rank() == 0:
        runner.save_checkpoint(osp.dirname(path), osp.basename(path), save_optimizer=False,
                               save_param_scheduler=False)
    barrier()


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file, on the CPU."""
    return _load_checkpoint(path, map_location='cpu')['state_dict']


class StateFile:
    """A loop's record of finished units: ``load`` at the start, ``write`` after each unit.

    Args:
        path: The JSON file.
        fresh: Builds the state of a run that starts from scratch.
        stale: Files that belong to an earlier run and are removed when the
            run starts from scratch (e.g. its ``initial_weights.pth``).
        indent: JSON indentation.
    """

    def __init__(self, path: str, fresh: Callable[[], dict], stale: Sequence[str] = (),
                 indent: int = 1) -> None:
        self.path = path
        self.fresh = fresh
        self.stale = tuple(stale)
        self.indent = indent

    def load(self, resume: bool) -> dict:
        """The recorded state when resuming and it exists; else a fresh one (stale files gone)."""
        if resume and osp.isfile(self.path):
            return read_json(self.path)
        if get_rank() == 0:
            for stale in (self.path, *self.stale):
                if osp.isfile(stale):
                    os.remove(stale)
        barrier()
        return self.fresh()

    def write(self, state: dict) -> None:
        """Rank 0 writes ``state`` atomically; all ranks wait."""
        if get_rank() == 0:
            atomic_write_json(self.path, state, indent=self.indent)
        barrier()
