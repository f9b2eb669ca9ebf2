# Front-end optimisation as the paper (§V-B): SGD, lr 1e-4, weight decay 1e-4, momentum 0.9
# (the official code adds Nesterov; the paper does not mention it). max_epochs is a budget.
_base_ = './divergence_guard.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=32)
# With `pretrained` (an ImageNet file, see configs/classifier_r50_monu.py) the configs fine-tune at
# the paper's rates, whatever a from-scratch config chose (merged by mmcyclic when it loads them).
when_pretrained = dict(
    optim_wrapper=dict(optimizer=dict(
        _delete_=True, type='SGD', lr=1e-4, momentum=0.9, weight_decay=1e-4)),
    param_scheduler=[])
