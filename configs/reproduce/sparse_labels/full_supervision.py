# Row: fully supervised, every ground-truth nucleus of the same 64 training patches, the same
# model, optimiser and number of iterations as the self-training rows (6 epochs = 192
# iterations of batch 2), validated every 2 epochs on the same 32 patches; the checkpoint with
# the best validation Dice is tested (as self-training selects its best phase by Dice).
_base_ = [
    '../../_base_/models/mask_rcnn_r18_fpn.py',
    '../../_base_/datasets/monuseg.py',
    '../../_base_/schedules/self_training.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(dataset=dict(indices=64))
val_dataloader = dict(dataset=dict(indices=32))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6, val_interval=2)
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=3, save_best='nuclei/pixel_dice'))
