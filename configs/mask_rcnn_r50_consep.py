# Fully-supervised Mask R-CNN R50 on CoNSeP.
_base_ = [
    './_base_/models/mask_rcnn_r50_fpn.py',
    './_base_/datasets/consep.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
