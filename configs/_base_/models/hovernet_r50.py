# HoVer-Net on the project's mmpretrain ResNet-50 with the data preprocessor and backbone of
# mask_rcnn_r50_fpn.py, so backbone weights move between the classifier and this model by name.
# Head, losses and post-processing: ../hovernet.py, docs/hovernet.md.
_base_ = ['./mask_rcnn_r50_fpn.py', '../hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_model)
