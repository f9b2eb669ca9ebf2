# Cyclic learning on CoNSeP with ResNet-50 at both ends.
_base_ = './cyclic_r50_monu.py'
data_root = 'data/consep/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(classifier=dict(config='classifier_r50_consep.py'))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-50 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
