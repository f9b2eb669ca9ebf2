# Cyclic learning with ResNet-101 at both ends (paper Table II).
_base_ = './cyclic_r50_monu.py'
model = dict(backbone=dict(depth=101))
train_cfg = dict(classifier=dict(config='classifier_r101_monu.py'))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-101 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
