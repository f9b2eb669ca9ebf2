# Mask R-CNN with the ResNet-152 backbone of configs/_base_/models/classifier_r152.py.
_base_ = './mask_rcnn_r50_fpn.py'
model = dict(backbone=dict(depth=152))
