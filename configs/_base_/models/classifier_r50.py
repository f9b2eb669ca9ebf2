# Front-end classifier f^C (paper §III-A): ResNet-50, global average pooling, a linear
# 2-class head (0 = negative tile, 1 = positive tile). Needs default_scope='mmpretrain'.
# Tiles are loaded as RGB by mmcyclic's LoadTile, hence to_rgb=False; ImageNet mean/std.
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', num_classes=2,
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=False),
    backbone=dict(
        type='ResNet', depth=50, num_stages=4, out_indices=(3, ), style='pytorch',
        # Optional ImageNet weights from a LOCAL file (nothing is downloaded): the top-level
        # `pretrained` of the configs, e.g. resnet50_8xb32_in1k_20210831-ea4938fc.pth or a
        # torchvision resnet50 state dict; it sets init_cfg=dict(type='PretrainedBackbone').
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=2, in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
