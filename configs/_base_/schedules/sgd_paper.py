# Back-end optimisation as the paper (§V-B): SGD, lr 1e-3, weight decay 1e-4.
# max_epochs is a CPU budget; the paper trains to convergence on 4 GPUs.
_base_ = './divergence_guard.py'
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4),
    # Random-init backbones without ImageNet weights need the gradient bounded early on.
    clip_grad=dict(max_norm=5.0, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=2)
# With `pretrained` (an ImageNet file, see configs/cyclic_r50_monu.py) the configs fine-tune at
# the paper's rates (§V-B), whatever a from-scratch config chose (merged by mmcyclic when loaded).
when_pretrained = dict(optim_wrapper=dict(optimizer=dict(
    _delete_=True, type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4)))
