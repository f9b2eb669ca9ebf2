# HoVer-Net on ResNet-18 for CPU budgets and tests.
_base_ = './hovernet_r50.py'
model = dict(backbone=dict(depth=18))
