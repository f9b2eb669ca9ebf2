# KG Instance on the project's mmpretrain ResNet-50 with the data preprocessor and backbone of
# mask_rcnn_r50_fpn.py, so backbone weights move between the classifier and this model by name.
# Decoder, heads, grouping and masks: ../kg_instance.py, docs/kg_instance.md.
_base_ = ['./mask_rcnn_r50_fpn.py', '../kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_model)
