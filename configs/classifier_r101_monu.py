# Front-end classifier f^C: ResNet-101 (avg_down as the ResNet-50 config) on image-level
# labelled MoNuSeg tiles. Paired with configs/cyclic_r101_monu.py.
_base_ = './classifier_r50_monu.py'
model = dict(backbone=dict(depth=101))
# ImageNet weights for the backbone from a LOCAL ResNet-101 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/front_end.md).
pretrained = None
