"""Optimizer wrappers that refuse steps from a diverging loss, and stop training on one."""
from typing import Dict, Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


class TrainingDiverged(RuntimeError):
    """Training produced ``max_consecutive`` unusable steps in a row (see the message)."""


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that does not step on a non-finite or exploding loss or gradient.

    A step is *unusable* when its loss is NaN/infinite, when the loss exceeds
    ``max_loss_ratio`` times the first finite loss this wrapper saw (the loops
    build one wrapper per phase, so the reference is the phase's first loss),
    or when a gradient is non-finite (e.g. ``grad_norm: inf`` before
    clipping). An unusable step is skipped, logged and counted
    (``train/nonfinite_skipped`` in the message hub, hence in the training
    log); after ``max_consecutive`` in a row (the patience) training stops with
    :class:`TrainingDiverged`, since the weights are then most likely broken.
    In distributed runs the ranks agree on skipping, so no rank waits for a
    gradient all-reduce that another rank left out.

    Args:
        max_consecutive: Unusable steps in a row that stop training.
        max_loss_ratio: A loss above this multiple of the first finite loss
            counts as exploding (None: only non-finite losses count).
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self, *args, max_consecutive: int = 10, max_loss_ratio: Optional[float] = 1000.0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if max_consecutive < 1:
            raise ValueError(f'max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = max_consecutive
        self.max_loss_ratio = max_loss_ratio
        self.reference_loss: Optional[float] = None
        self.skipped_total = 0
        self.skipped_in_a_row = 0
        self._device = torch.device('cpu')

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        self._device = loss.device
        problem = self._loss_problem(loss)
        if problem is None:
            self.backward(self.scale_loss(loss))
            if self.should_update():
                problem = self._gradient_problem()
                if problem is None:
                    self.step(**(step_kwargs or {}))
                self.zero_grad(**(zero_kwargs or {}))
            if problem is None:
                self.skipped_in_a_row = 0
                return
        else:
            self.zero_grad(**(zero_kwargs or {}))
        self._skip(problem)

    def _loss_problem(self, loss: torch.Tensor) -> Optional[str]:
        value = loss.detach().float()
        finite = self._agree(bool(torch.isfinite(value).all()))
        if not finite:
            return f'non-finite loss ({value.item()})'
        value = float(value)
        if self.reference_loss is None:
            self.reference_loss = max(abs(value), 1e-6)
            return None
        limit = None if self.max_loss_ratio is None else self.max_loss_ratio * self.reference_loss
        if self._agree(limit is None or value <= limit):
            return None
        return (f'exploding loss {value:.4g} (more than {self.max_loss_ratio:g}x the first loss '
                f'{self.reference_loss:.4g})')

    def _gradient_problem(self) -> Optional[str]:
        grads = [p.grad for group in self.optimizer.param_groups for p in group['params']
                 if p.grad is not None]
        finite = not grads or bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
        return None if self._agree(finite) else 'non-finite gradient'

    def _skip(self, problem: str) -> None:
        self.skipped_total += 1
        self.skipped_in_a_row += 1
        MessageHub.get_current_instance().update_scalar('train/nonfinite_skipped',
                                                        self.skipped_total)
        print_log(f'{problem}: optimizer step skipped ({self.skipped_in_a_row} in a row, '
                  f'{self.skipped_total} in total)', logger='current', level=30)
        if self.skipped_in_a_row >= self.max_consecutive:
            raise TrainingDiverged(
                f'{self.skipped_in_a_row} unusable steps in a row, the last: {problem}; lr '
                f'{self.get_lr()["lr"][0]:.4g}. Lower the learning rate '
                '(optim_wrapper.optimizer.lr), keep gradient clipping on '
                '(optim_wrapper.clip_grad=dict(max_norm=5.0)), or check the labels for '
                'empty/degenerate masks.')

    def _agree(self, ok: bool) -> bool:
        """True only if ``ok`` on every rank."""
        flag = torch.tensor([int(ok)], dtype=torch.int32, device=self._device)
        if torch_dist.is_available() and torch_dist.is_initialized():
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MIN)
        return bool(flag.item())


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(SkipNonFiniteOptimWrapper, AmpOptimWrapper):
    """:class:`SkipNonFiniteOptimWrapper` for mixed precision (``tools/train.py --amp``).

    A non-finite or exploding loss is skipped and counted as without AMP. Non-finite
    gradients are the loss scaler's business: it skips such a step and lowers the scale
    (an overflow of a too high scale is not a divergence), so they are not counted here.

    Args:
        **kwargs: :class:`SkipNonFiniteOptimWrapper` and
            :class:`mmengine.optim.AmpOptimWrapper` arguments (``loss_scale``, ``dtype``).
    """

    def _gradient_problem(self) -> Optional[str]:
        return None
