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
# The default seed recipe (hematoxylin outlines under relevance peaks, ranked by relevance)
# with the nucleus size of the generated images as its area prior: lymphocytes ~130 px and
# epithelial nuclei ~330 px (mmcyclic/datasets/synthetic.py), where MoNuSeg at 40x needs
# 150-1500 px. A size prior comes from the resolution, not from labels.
seed_recipe = dict(min_area=50, max_area=800)
# ImageNet weights for the backbone from a LOCAL ResNet-18 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/front_end.md).
pretrained = None
