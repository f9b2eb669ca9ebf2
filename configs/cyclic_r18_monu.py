# CPU-budget cyclic learning on real MoNuSeg: ResNet-18 at both ends (the classifier of
# configs/classifier_r18_monu.py), used for the bilateral / unilateral / seeds_only comparison
# in docs/results.md. The paper's configuration is configs/cyclic_r50_monu.py.
_base_ = [
    './_base_/models/mask_rcnn_r18_fpn.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/cyclic.py',
    './_base_/cyclic_runtime.py',
    './_base_/weak_supervision.py',
]
# Pseudo-label settings (score threshold, LabelSetMaskRCNN, sampler sizes): see the file.
model = _base_.label_set_model
val_evaluator = _base_.sparse_label_evaluator
test_evaluator = _base_.sparse_label_evaluator
train_cfg = dict(classifier=dict(config='classifier_r18_monu.py', cfg_options=dict()))
# From-scratch backbones within a CPU budget need a larger step than the paper's 1e-3.
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30)]
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-18 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
