# The optimiser wrapper of every training schedule (each schedule inherits it): a step whose
# loss or gradient is NaN/inf, or whose loss exceeds max_loss_ratio x the phase's first loss,
# is skipped and counted (train/nonfinite_skipped); max_consecutive of them in a row stop the
# run with an error, so a diverged run never ends "successfully" with broken weights
# (SkipNonFiniteOptimWrapper, mmcyclic/engine/optim_wrapper.py).
optim_wrapper = dict(type='SkipNonFiniteOptimWrapper', max_consecutive=10, max_loss_ratio=1000.0)
