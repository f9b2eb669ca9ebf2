# Fully-supervised Mask R-CNN R50 on CoNSeP.
_base_ = [
    './_base_/models/mask_rcnn_r50_fpn.py',
    './_base_/datasets/consep.py',
    './_base_/schedules/sgd_paper.py',
    './_base_/default_runtime.py',
]
