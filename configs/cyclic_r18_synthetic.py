# The embedded demo (make demo): two cycles of cyclic learning on generated H&E with
# ResNet-18 at both ends, about 10 minutes on 2 CPU cores (docs/results.md).
_base_ = [
    './_base_/models/mask_rcnn_r18_fpn.py',
    './_base_/datasets/synthetic.py',
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
train_cfg = dict(
    classifier=dict(config='classifier_r18_synthetic.py', cfg_options=dict()),
    max_cycles=2,
    self_training=dict(num_students=2, teacher_epochs=12, student_epochs=8, score_thr=0.1),
    seeds=dict(keep_relevance=True))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8], gamma=0.1),
]
