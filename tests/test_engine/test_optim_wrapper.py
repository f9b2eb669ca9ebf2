"""Unusable steps (non-finite or exploding loss, non-finite gradient) are skipped, counted, and
stop training when persistent."""
import pytest
import torch
from torch import nn

import mmcyclic  # noqa: F401
from mmcyclic.engine.optim_wrapper import SkipNonFiniteOptimWrapper, TrainingDiverged


def test_nan_loss_is_skipped_counted_and_stops_after_limit():
    model = nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                        max_consecutive=3)
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert torch.equal(model.weight, before) and wrapper.skipped_total == 1
    wrapper.update_params(model(torch.ones(1, 2)).sum())  # a finite step resets the run
    assert not torch.equal(model.weight, before) and wrapper.skipped_in_a_row == 0
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('inf'))
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    with pytest.raises(TrainingDiverged, match='3 unusable steps in a row.*lr 0.1'):
        wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert wrapper.skipped_total == 4


def test_exploding_finite_loss_is_skipped_and_stops_training():
    """Issue 19 item 1: a loss of 1e23 is finite; before the fix it was stepped on."""
    model = nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                        max_consecutive=2, max_loss_ratio=100)
    x = torch.ones(1, 2)
    wrapper.update_params(model(x).abs().sum() + 1.0)  # the reference: the first loss
    before = model.weight.detach().clone()
    wrapper.update_params(model(x).abs().sum() + 1e23)
    assert torch.equal(model.weight, before) and wrapper.skipped_in_a_row == 1
    with pytest.raises(TrainingDiverged, match='exploding loss'):
        wrapper.update_params(model(x).abs().sum() + 1e23)


def test_non_finite_gradient_is_not_stepped_on():
    model = nn.Linear(2, 1)
    wrapper = SkipNonFiniteOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                        max_consecutive=5)
    before = model.weight.detach().clone()
    # sqrt at 0 has an infinite derivative; the loss itself is finite.
    wrapper.update_params(torch.sqrt(model.weight * 0).sum() + model(torch.ones(1, 2)).sum())
    assert torch.equal(model.weight, before) and wrapper.skipped_total == 1
    assert model.weight.grad is None or not model.weight.grad.abs().sum()
