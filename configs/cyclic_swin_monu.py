# Cyclic learning with Swin-T at both ends; seeds from attention rollout (the classifier
# config's `relevance`).   python tools/train.py configs/cyclic_swin_monu.py
_base_ = [
    './_base_/models/mask_rcnn_swin_t_fpn.py',
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
train_cfg = dict(classifier=dict(config='classifier_swin_monu.py', cfg_options=dict()))
