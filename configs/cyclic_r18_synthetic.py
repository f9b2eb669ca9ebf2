# The embedded demo (make demo): two cycles of cyclic learning on generated H&E with
# ResNet-18 at both ends, within ~15 minutes on 2 CPU cores.
_base_ = [
    './_base_/models/mask_rcnn_r18_fpn.py',
    './_base_/datasets/synthetic.py',
    './_base_/schedules/cyclic.py',
    './_base_/cyclic_runtime.py',
]
model = dict(type='LabelSetMaskRCNN')
train_cfg = dict(
    classifier=dict(config='classifier_r18_synthetic.py', cfg_options=dict()),
    max_cycles=2,
    self_training=dict(num_students=2, teacher_epochs=8, student_epochs=6, score_thr=0.3),
    seeds=dict(keep_relevance=True))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', by_epoch=True, milestones=[5], gamma=0.1),
]
