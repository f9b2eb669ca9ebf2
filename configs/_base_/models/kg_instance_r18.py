# KG Instance with ResNet-18 (BasicBlock channels) for CPU budgets and tests; see kg_instance_r50.py.
_base_ = './kg_instance_r50.py'
model = dict(backbone=dict(depth=18), neck=dict(in_channels=[64, 128, 256, 512]))
