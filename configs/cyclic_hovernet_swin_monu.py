# Cyclic learning with Swin-T at both ends and HoVer-Net as the back-end: cyclic_swin_monu.py
# with its model swapped.   python tools/train.py configs/cyclic_hovernet_swin_monu.py
_base_ = ['./cyclic_swin_monu.py', './_base_/hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
