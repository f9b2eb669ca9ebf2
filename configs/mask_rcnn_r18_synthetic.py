# Small fully-supervised baseline on generated H&E (the demo; ~minutes on 2 CPU cores).
_base_ = [
    './_base_/models/mask_rcnn_r18_fpn.py',
    './_base_/datasets/synthetic.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
# Synthetic nuclei are easy: a larger learning rate converges within the demo budget.
optim_wrapper = dict(optimizer=dict(lr=0.02))
train_cfg = dict(max_epochs=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', by_epoch=True, milestones=[10], gamma=0.1),
]
