# Front-end classifier f^C with a transformer backbone (paper §III: "transformer can also
# serve as the feature-extracting backbone"): Swin-T (mmpretrain arch 'tiny', shifted
# 7x7 windows), GAP over the last stage's tokens, a linear 2-class head.
# Relevance for this backbone is attention rollout (mmcyclic.relevance.AttentionRollout).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor', num_classes=2,
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=False),
    backbone=dict(
        type='SwinTransformer', arch='tiny', img_size=224, drop_path_rate=0.2,
        # Inputs smaller than 224 px (e.g. 64 px tiles) give last-stage grids below the
        # 7x7 window; pad_small_map pads them instead of failing.
        pad_small_map=True,
        # Optional ImageNet weights from a LOCAL file (nothing is downloaded): the top-level
        # `pretrained` of the configs (an mmpretrain Swin-T checkpoint or torchvision swin_t).
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=2, in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )),
)
