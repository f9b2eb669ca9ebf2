"""Training loops, hooks and optimisation helpers."""
from .cpu_distributed import CPUDistributedDataParallel
from .cyclic_hooks import CyclicBestStudentHook, CyclicSummaryHook, ReseedEpochHook, SeedReportHook
from .cyclic_loop import CyclicLoop
from .optim_wrapper import SkipNonFiniteAmpOptimWrapper, SkipNonFiniteOptimWrapper
from .self_training_loop import SelfTrainingLoop

__all__ = [
    'CPUDistributedDataParallel', 'CyclicLoop', 'CyclicBestStudentHook', 'CyclicSummaryHook',
    'ReseedEpochHook', 'SeedReportHook', 'SelfTrainingLoop', 'SkipNonFiniteAmpOptimWrapper',
    'SkipNonFiniteOptimWrapper'
]
