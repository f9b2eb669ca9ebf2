# Cyclic learning with ResNet-152 at both ends.
_base_ = './cyclic_r50_monu.py'
model = dict(backbone=dict(depth=152))
train_cfg = dict(classifier=dict(config='classifier_r152_monu.py'))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-152 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
