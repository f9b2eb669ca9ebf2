# Self-training schedule: every phase (teacher, each student) gets a fresh
# optimizer and these schedulers, counted from the start of the phase.
_base_ = './divergence_guard.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100)]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# With `pretrained` (an ImageNet file, see configs/cyclic_r50_monu.py) the configs fine-tune at
# the paper's rates (§V-B), whatever a from-scratch config chose (merged by mmcyclic when loaded).
when_pretrained = dict(optim_wrapper=dict(optimizer=dict(
    _delete_=True, type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4)))
