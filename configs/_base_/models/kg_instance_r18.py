# KG Instance with ResNet-18 for CPU budgets and tests; see kg_instance_r50.py.
_base_ = ['./mask_rcnn_r18_fpn.py', './kg_instance_heads.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_r18_heads)
