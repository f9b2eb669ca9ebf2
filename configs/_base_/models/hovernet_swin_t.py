# HoVer-Net on mmpretrain's Swin-T, the module of classifier_swin_t.py (as mask_rcnn_swin_t_fpn.py),
# returning all four stages for the decoders.
_base_ = './hovernet_r50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.SwinTransformer',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True))
