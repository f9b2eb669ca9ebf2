# Front-end classifier f^C with a ResNet-101 backbone; everything else as classifier_r50.py.
# Optional local ImageNet weights: model.backbone.init_cfg=dict(type='Pretrained',
#     checkpoint='checkpoints/resnet101_in1k.pth', prefix='backbone')
_base_ = './classifier_r50.py'
model = dict(backbone=dict(depth=101))
