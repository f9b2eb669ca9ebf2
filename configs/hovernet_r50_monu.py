# Fully-supervised HoVer-Net R50 on MoNuSeg: mask_rcnn_r50_monu.py with HoVer-Net as the model
# (paper Table VII "Fully reimp."). python tools/train.py configs/hovernet_r50_monu.py
_base_ = [
    './_base_/models/hovernet_r50.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
