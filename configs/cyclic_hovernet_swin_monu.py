# Cyclic learning with Swin-T at both ends and HoVer-Net as the back-end: cyclic_swin_monu.py
# with its model swapped.   python tools/train.py configs/cyclic_hovernet_swin_monu.py
_base_ = ['./cyclic_swin_monu.py', './_base_/hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL Swin-T file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
