# KG Instance on ResNet-18 for CPU budgets and tests.
_base_ = './kg_instance_r50.py'
model = dict(backbone=dict(depth=18))
