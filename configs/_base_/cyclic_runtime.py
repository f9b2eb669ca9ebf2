# Runtime of the cyclic configs: the loops write their own per-phase checkpoints
# (best_student.pth is the result), and the cyclic hooks write reports and the summary.
_base_ = './default_runtime.py'
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False, save_best=None))
custom_hooks = [
    dict(type='SeedReportHook', overlays=2),
    dict(type='CyclicBestStudentHook'),
    dict(type='CyclicSummaryHook'),
]
