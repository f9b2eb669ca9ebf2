# KG Instance (Yi et al., MICCAI 2019; docs/kg_instance.md) with ResNet-50: keypoint-graph boxes
# from corner and centre heatmaps at strides 1, 2, 4, 8, then a mask per box. Backbone and data
# preprocessor are those of mask_rcnn_r50_fpn.py (the classifier's mmpretrain module); the other
# parts and their knobs are in kg_instance_heads.py.
_base_ = ['./mask_rcnn_r50_fpn.py', './kg_instance_heads.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_r50_heads)
