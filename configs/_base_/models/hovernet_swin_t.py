# HoVer-Net on mmpretrain's Swin-T, the module of classifier_swin_t.py, with the data
# preprocessor and backbone of mask_rcnn_swin_t_fpn.py (all four stages for the decoders).
_base_ = ['./mask_rcnn_swin_t_fpn.py', '../hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_model)
