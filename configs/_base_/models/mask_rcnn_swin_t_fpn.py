# Mask R-CNN with mmpretrain's Swin-T, the module of configs/_base_/models/classifier_swin_t.py,
# returning all four stages for the FPN. Weights move between the two ends by name; the
# per-stage output norms norm0..norm2 exist only here (the classifier reads stage 3 only).
_base_ = './mask_rcnn_r50_fpn.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.SwinTransformer',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True),
    neck=dict(in_channels=[96, 192, 384, 768]))
