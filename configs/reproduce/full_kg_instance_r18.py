# Table VII back-ends in the reproduction protocol: ./full_hovernet_r18.py with KG Instance R18
# as the model (Adam 1e-3, chosen on validation: docs/kg_instance.md), the same data and budget.
_base_ = ['./sparse_labels/full_supervision_kg_instance.py', './budget.py']
train_dataloader = dict(dataset=dict(indices=None))
val_dataloader = dict(dataset=dict(indices=None))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=_base_.phase_epochs, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=-1, save_best=None))
