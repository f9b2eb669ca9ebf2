# Small front-end classifier for tests and the demo: ResNet-18 (BasicBlock), GAP, 2 classes.
_base_ = './classifier_r50.py'
model = dict(
    backbone=dict(depth=18),
    head=dict(in_channels=512))
