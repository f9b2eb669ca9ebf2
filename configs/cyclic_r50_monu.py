# Cyclic learning on MoNuSeg with ResNet-50 at both ends (paper Table I/II):
#   python tools/train.py configs/cyclic_r50_monu.py
# The classifier is configs/classifier_r50_monu.py (simulated tile labels by default).
# CPU budget (docs/results.md), e.g.:
#   --cfg-options train_cfg.max_cycles=1 train_cfg.self_training.num_students=1 \
#     train_cfg.self_training.teacher_epochs=1 train_cfg.self_training.student_epochs=1 \
#     train_cfg.classifier.cfg_options.train_cfg.max_epochs=1
_base_ = [
    './_base_/models/mask_rcnn_r50_fpn.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/cyclic.py',
    './_base_/cyclic_runtime.py',
    './_base_/weak_supervision.py',
]
# Pseudo-label settings (score threshold, LabelSetMaskRCNN, sampler sizes): see the file.
model = _base_.label_set_model
val_evaluator = _base_.sparse_label_evaluator
test_evaluator = _base_.sparse_label_evaluator
train_cfg = dict(classifier=dict(config='classifier_r50_monu.py', cfg_options=dict()))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-50 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
