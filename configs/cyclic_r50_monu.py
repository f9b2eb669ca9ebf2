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
]
# Pseudo labels are sparse: nuclei without a seed are negatives in training, which pulls
# every nucleus' score down. Score every detection mmdet keeps (its rcnn score_thr, 0.05)
# instead of the fully-supervised configs' 0.5, and sample as few negatives as the
# authors' code (64 RPN anchors, 128 RoIs with 33 % positives per image; mmdet: 256/512).
val_evaluator = dict(score_thr=0.05)
test_evaluator = dict(score_thr=0.05)
model = dict(
    type='LabelSetMaskRCNN',
    train_cfg=dict(rpn=dict(sampler=dict(num=64)),
                   rcnn=dict(sampler=dict(num=128, pos_fraction=0.33))))
train_cfg = dict(classifier=dict(config='classifier_r50_monu.py', cfg_options=dict()))
