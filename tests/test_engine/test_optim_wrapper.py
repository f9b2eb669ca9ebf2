"""Non-finite losses skip the optimizer step, are counted, and stop training when persistent."""
import pytest
import torch
from torch import nn

import mmcyclic  # noqa: F401
from mmcyclic.engine.optim_wrapper import SkipNonFiniteOptimWrapper


def test_nan_loss_is_skipped_counted_and_stops_after_limit():
    model = nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), max_consecutive=3)
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert torch.equal(model.weight, before) and wrapper.skipped_total == 1
    wrapper.update_params(model(torch.ones(1, 2)).sum())  # a finite step resets the run
    assert not torch.equal(model.weight, before) and wrapper.skipped_in_a_row == 0
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('inf'))
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    with pytest.raises(RuntimeError, match='3 consecutive non-finite losses'):
        wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert wrapper.skipped_total == 4
