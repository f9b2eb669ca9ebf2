# The reproduction protocol's self-training alone (Table V, Fig. 5; docs/reproduction.md):
# weak HoVer-Net R18 from random initialisation, the same phases, budget, loss and selection
# as one cycle of ./cyclic_hovernet_r18.py without a classifier: teacher + 2 students on the
# 12 Kumar training images. The seed file is given by make reproduce
# (--cfg-options train_cfg.seed_file=...): GT x 20 (tools/make_gt_seeds.py, uses pixel labels)
# or LRP seeds of the cycle-1 classifier with another K (tools/extract_seeds.py --max-seeds K).
_base_ = ['../self_training_r18_monu_gt20.py', '../_base_/hovernet.py', './budget.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
train_dataloader = dict(dataset=dict(indices=None))
val_dataloader = dict(dataset=dict(indices=None))
train_cfg = dict(num_students=2, teacher_epochs=_base_.phase_epochs,
                 student_epochs=_base_.phase_epochs)
