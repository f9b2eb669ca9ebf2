"""Unusable steps (non-finite or exploding loss, non-finite gradient) are skipped, counted, and
stop training when persistent."""
import pytest
import torch
from mmengine.config import Config
from torch import nn

import mmcyclic  # noqa: F401
from mmcyclic.engine.optim_wrapper import SkipNonFiniteOptimWrapper, TrainingDiverged

from cyclic_test_utils import REPO


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


CONFIGS = REPO / 'configs'
SCHEDULES = sorted((CONFIGS / '_base_' / 'schedules').glob('*.py'))


@pytest.mark.parametrize('schedule', [p.name for p in SCHEDULES
                                      if p.name != 'divergence_guard.py'])
def test_every_schedule_inherits_the_divergence_guard(schedule):
    """Issue 27 item 1: the guard was only in self_training.py; sgd_paper.py (and the five
    fully supervised configs on it) used a plain wrapper."""
    guard = Config.fromfile(str(CONFIGS / '_base_' / 'schedules' / 'divergence_guard.py'))
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'schedules' / schedule))
    assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper'
    for key, value in guard.optim_wrapper.items():
        assert cfg.optim_wrapper[key] == value, key


@pytest.mark.slow
@pytest.mark.parametrize('config', sorted(str(p.relative_to(CONFIGS))
                                          for p in CONFIGS.rglob('*.py')
                                          if '_base_' not in p.parts))
def test_every_training_config_stops_a_diverged_run(config):
    cfg = Config.fromfile(str(CONFIGS / config))
    if 'train_cfg' not in cfg:
        pytest.skip('not a training config (e.g. shared values such as reproduce/budget.py)')
    assert cfg.optim_wrapper.type == 'SkipNonFiniteOptimWrapper', config


def test_a_checkpoint_with_non_finite_weights_is_refused_naming_it(tmp_path):
    """Issue 27 item 1: a diverged run's NaN weights loaded silently (infer.py then advised a
    lower score threshold)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmcyclic.utils.checkpoint_compat import NonFiniteWeightsError
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.bias.fill_(float('nan'))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'diverged.pth')
    with pytest.raises(NonFiniteWeightsError, match=r'diverged.pth: 1 weight tensor\(s\) hold '
                                                    r'NaN or infinite values \(e.g. bias\)'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'diverged.pth'))
    torch.save({'state_dict': nn.Linear(2, 1).state_dict()}, tmp_path / 'fine.pth')
    CheckpointLoader.load_checkpoint(str(tmp_path / 'fine.pth'))


def test_mixed_precision_keeps_the_guard(monkeypatch):
    """--amp swaps in the AMP variant: a NaN loss still stops training (AmpOptimWrapper needs a
    GPU to be built; without one its scaler is disabled, which is enough here)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp

    from mmcyclic.engine.optim_wrapper import SkipNonFiniteAmpOptimWrapper
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    model = nn.Linear(2, 1)
    with pytest.warns(UserWarning):  # "CUDA is not available. Disabling."
        wrapper = SkipNonFiniteAmpOptimWrapper(  # keywords, as mmengine's builder passes them
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), max_consecutive=2,
            loss_scale='dynamic')
    wrapper.update_params(model(torch.ones(1, 2)).sum())
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    with pytest.raises(TrainingDiverged, match='2 unusable steps in a row'):
        wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
