"""Training loops, hooks and optimisation helpers."""
from .cpu_distributed import CPUDistributedDataParallel
from .optim_wrapper import SkipNonFiniteOptimWrapper
from .self_training_loop import SelfTrainingLoop

__all__ = ['CPUDistributedDataParallel', 'SelfTrainingLoop', 'SkipNonFiniteOptimWrapper']
