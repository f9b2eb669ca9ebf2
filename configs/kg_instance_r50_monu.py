# Fully-supervised KG Instance R50 on MoNuSeg: the "Fully-KG" row of the paper's Table VII,
# with the optimisation of the fully-supervised Mask R-CNN (mask_rcnn_r50_monu.py) for a
# like-for-like comparison (the KG paper: Adam 1e-4; see docs/kg_instance.md).
_base_ = [
    './_base_/models/kg_instance_r50.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
