"""Training loops, hooks and optimisation helpers."""
from .optim_wrapper import SkipNonFiniteOptimWrapper
from .self_training_loop import SelfTrainingLoop

__all__ = ['SelfTrainingLoop', 'SkipNonFiniteOptimWrapper']
