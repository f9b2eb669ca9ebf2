"""An optimizer wrapper that skips steps whose loss is NaN or infinite."""
from typing import Dict, Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that does not step on a non-finite loss.

    A skipped step is logged and counted (``train/nonfinite_skipped`` in the
    message hub, hence in the training log); after ``max_consecutive`` skips in
    a row training stops with an error, since the weights are then most likely
    broken. In distributed runs the ranks agree on skipping, so no rank waits
    for a gradient all-reduce that another rank left out.

    Args:
        max_consecutive: Consecutive skipped steps that abort training.
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self, *args, max_consecutive: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_consecutive = max_consecutive
        self.skipped_total = 0
        self.skipped_in_a_row = 0

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if self._all_ranks_finite(loss):
            self.skipped_in_a_row = 0
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self.skipped_total += 1
        self.skipped_in_a_row += 1
        self.zero_grad(**(zero_kwargs or {}))
        MessageHub.get_current_instance().update_scalar('train/nonfinite_skipped', self.skipped_total)
        print_log(f'non-finite loss ({loss.item()}): optimizer step skipped '
                  f'({self.skipped_in_a_row} in a row, {self.skipped_total} in total)',
                  logger='current', level=30)
        if self.skipped_in_a_row >= self.max_consecutive:
            raise RuntimeError(
                f'{self.skipped_in_a_row} consecutive non-finite losses: training stopped. Lower the '
                'learning rate, enable gradient clipping (optim_wrapper.clip_grad), or check the '
                'labels for empty/degenerate masks.')

    @staticmethod
    def _all_ranks_finite(loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all().to(torch.int32).reshape(1)
        if torch_dist.is_available() and torch_dist.is_initialized():
            finite = finite.to(loss.device)
            torch_dist.all_reduce(finite, op=torch_dist.ReduceOp.MIN)
        return bool(finite.item())
