# Table VII back-ends in the reproduction protocol: ./full_hovernet_r18.py with Mask R-CNN R18
# (the paper's Tables I-VI back-end) as the model, the same data, optimiser and budget.
_base_ = ['./sparse_labels/full_supervision.py', './budget.py']
train_dataloader = dict(dataset=dict(indices=None))
val_dataloader = dict(dataset=dict(indices=None))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=_base_.phase_epochs, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=-1, save_best=None))
