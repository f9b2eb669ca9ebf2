# The reproduction protocol's fully supervised back-end (docs/reproduction.md): HoVer-Net R18
# from random initialisation on every ground-truth nucleus of the 12 Kumar training images
# (192 patches of 256 px cropped to 224 px, batch 2: 96 iterations an epoch), SGD lr 0.02 after a
# 30-iteration warm-up, then constant, validated on the 4 validation images (64 patches) every
# 4 epochs; the last checkpoint is tested. Its budget is ./budget.py's phase_epochs, the same as
# every phase of the weak rows. The budget row runs it longer (--cfg-options
# train_cfg.max_epochs=...) to draw the validation curve the budget is chosen on.
_base_ = ['./sparse_labels/full_supervision.py', '../_base_/hovernet.py', './budget.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_model)
train_dataloader = dict(dataset=dict(indices=None))
val_dataloader = dict(dataset=dict(indices=None))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=_base_.phase_epochs, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=-1, save_best=None))
