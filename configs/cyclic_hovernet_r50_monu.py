# Cyclic learning with HoVer-Net R50 as the back-end (paper Table VII "CL"): cyclic_r50_monu.py
# with its model swapped; the backbone (and so the classifier) stays ResNet-50.
#   python tools/train.py configs/cyclic_hovernet_r50_monu.py
# The same two lines give any cyclic or self-training config HoVer-Net as its back-end.
_base_ = ['./cyclic_r50_monu.py', './_base_/hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-50 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
