# Back-end self-training alone on generated H&E, seeds = 20 ground-truth nuclei
# per image (the paper's Table V setting, here to check that students improve).
#   python tools/make_gt_seeds.py --ann data/synthetic/annotations/instances_train_full.json \
#       --k 20 --out data/synthetic/seeds_gt20.json
_base_ = [
    './_base_/models/mask_rcnn_r18_fpn.py',
    './_base_/datasets/synthetic.py',
    './_base_/schedules/self_training.py',
    './_base_/default_runtime.py',
    './_base_/weak_supervision.py',
]
# Pseudo-label settings (score threshold, LabelSetMaskRCNN, sampler sizes): see the file.
model = _base_.label_set_model
val_evaluator = _base_.sparse_label_evaluator
test_evaluator = _base_.sparse_label_evaluator
train_cfg = dict(
    type='SelfTrainingLoop',
    seed_file='data/synthetic/seeds_gt20.json',
    num_students=2,
    teacher_epochs=16,
    student_epochs=10,
    alpha=0.66,
    score_thr=None,  # pseudo labels at the test threshold (sparse_label_evaluator)
    union_iou_thr=0.5,
    selection='val_dice')
# The loop writes its own per-phase checkpoints (resumable per phase).
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False, save_best=None))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8], gamma=0.1),
]
