# Cyclic learning with ResNet-152 at both ends.
_base_ = './cyclic_r50_monu.py'
model = dict(backbone=dict(depth=152))
train_cfg = dict(classifier=dict(config='classifier_r152_monu.py'))
