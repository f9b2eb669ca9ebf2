# Small front-end classifier (ResNet-18) on simulated tiles of the generated H&E images:
# the classifier of the embedded demo (configs/cyclic_r18_synthetic.py).
_base_ = [
    './_base_/models/classifier_r18.py',
    './_base_/datasets/tiles_synthetic.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/classifier_runtime.py',
]
model = dict(backbone=dict(avg_down=True))  # as the detector's backbone
optim_wrapper = dict(optimizer=dict(lr=1e-2))
train_cfg = dict(max_epochs=2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2, T_max=2),
]
# The default seed recipe's priors (nucleus area 150-1500 px, hematoxylin outline) are set for
# MoNuSeg at 40x; the small generated images keep the paper's recipe (docs/front_end.md).
seed_recipe = dict(preset='paper')
