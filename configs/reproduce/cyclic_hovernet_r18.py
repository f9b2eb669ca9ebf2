# The reproduction protocol's cyclic learning (docs/reproduction.md): weak HoVer-Net R18 from
# random initialisation, the front-end classifier of ./classifier_r18.py (simulated 64 px tile
# labels), bilateral sharing, 3 cycles (max_cycles; no early stop), teacher + 2 students per
# cycle on the 12 Kumar training images (192 patches), selection by validation Dice on the 4
# validation images, relevance maps kept (cycle_i/relevance/, for the K sweep). The budget of a
# back-end phase is ./budget.py's (equal to the fully supervised row's, ./full_hovernet_r18.py).
#   python tools/train.py configs/reproduce/cyclic_hovernet_r18.py --cfg-options randomness.seed=0
_base_ = ['../cyclic_r18_monu.py', '../_base_/hovernet.py', './budget.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
train_cfg = dict(
    max_cycles=3,
    classifier=dict(config='classifier_r18.py',
                    cfg_options=dict(train_cfg=dict(max_epochs=_base_.classifier_epochs),
                                     default_hooks=dict(checkpoint=dict(max_keep_ckpts=1)))),
    self_training=dict(num_students=2, teacher_epochs=_base_.phase_epochs,
                       student_epochs=_base_.phase_epochs),
    seeds=dict(keep_relevance=True))
