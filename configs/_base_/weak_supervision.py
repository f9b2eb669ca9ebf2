# Settings for detectors trained on pseudo labels (seed sets, self-training, the cycle).
# A top-level config takes them by reference, so the backbone stays its own choice:
#   _base_ = [<model>, <dataset>, <schedule>, <runtime>, './_base_/weak_supervision.py']
#   model = _base_.label_set_model
#   val_evaluator = _base_.sparse_label_evaluator
#   test_evaluator = _base_.sparse_label_evaluator
# Pseudo labels are sparse: nuclei without a seed are negatives in training, which pulls
# every nucleus' score down. Score every detection mmdet keeps (its rcnn score_thr, 0.05)
# instead of the fully-supervised configs' 0.5, and sample as few negatives as the
# authors' code (64 RPN anchors, 128 RoIs with 33 % positives per image; mmdet: 256/512).
# The detector takes α·L(M) + (1−α)·L(M′) with one backbone pass (LabelSetMaskRCNN; α is
# train_cfg.self_training.alpha, which the loop sets for each phase: (1, 0) for the teacher), and
# each set's loss ignores the other set's instances as negatives (ignore_other_sets; the
# assigners below implement it: an anchor/RoI on an M′ nucleus is not background for L(M)).
# Missing-label remedy (the best of the two on validation, docs/results.md "Self-training from
# 20 labelled nuclei per image"): hematoxylin-positive blobs of nucleus size that no label
# covers are ignored, not negatives (stain prior). None: every unlabelled nucleus is a negative.
# The other remedy, background recalibration, is
#   train_cfg=dict(rcnn=dict(sampler=dict(type='ConfidentNegativeIgnoringSampler', score_thr=0.5)))
sparse_label_evaluator = dict(score_thr=0.05)
label_set_model = dict(
    type='LabelSetMaskRCNN',
    ignore_other_sets=True,  # False: Eq. (2) literally (each set's nuclei negatives of the other)
    train_cfg=dict(ignore_unlabelled_stain_blobs=dict(min_area=30, max_area=2000),
                   rpn=dict(assigner=dict(type='MaxIoUAssignerWithIgnoredInstances'),
                            sampler=dict(num=64)),
                   rcnn=dict(assigner=dict(type='MaxIoUAssignerWithIgnoredInstances'),
                             sampler=dict(num=128, pos_fraction=0.33))))
