# Fully-supervised Mask R-CNN R50 on MoNuSeg: the "FULLY" row of the paper's Table I.
# CPU budget used for docs/results.md: see README ("Fully-supervised baseline").
_base_ = [
    './_base_/models/mask_rcnn_r50_fpn.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
