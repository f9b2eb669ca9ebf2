# HoVer-Net on the project's mmpretrain ResNet-50 (the backbone of mask_rcnn_r50_fpn.py, so
# backbone weights move between the classifier and this model by name). Head, losses and
# post-processing: ../hovernet.py, docs/hovernet.md.
_base_ = '../hovernet.py'
model = dict(
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        avg_down=True,
        # From scratch the BN statistics must be learnt: do not freeze them.
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    **_base_.hovernet_model)
