# Table VII back-ends in the reproduction protocol: ./cyclic_hovernet_r18.py with weak
# Mask R-CNN R18 (LabelSetMaskRCNN of configs/_base_/weak_supervision.py) as the model.
_base_ = ['../cyclic_r18_monu.py', './budget.py']
train_cfg = dict(
    max_cycles=3,
    classifier=dict(config='classifier_r18.py',
                    cfg_options=dict(train_cfg=dict(max_epochs=_base_.classifier_epochs),
                                     default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))),
    self_training=dict(num_students=2, teacher_epochs=_base_.phase_epochs,
                       student_epochs=_base_.phase_epochs),
    seeds=dict(keep_relevance=True))
