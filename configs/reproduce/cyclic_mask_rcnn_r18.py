# The cycle of the reproduction protocol (docs/reproduction.md), with weak Mask R-CNN R18
# (LabelSetMaskRCNN of configs/_base_/weak_supervision.py; Table VII back-ends, row t7): the
# front-end classifier of ./classifier_r18.py for classifier_epochs, bilateral sharing, 3 cycles
# (no early stop), teacher + 2 students of phase_epochs each (./budget.py) on the 12 Kumar
# training images, selection by validation Dice, relevance maps kept (cycle_i/relevance/).
# ./cyclic_hovernet_r18.py (the main back-end) and ./cyclic_kg_instance_r18.py swap the model.
_base_ = ['../cyclic_r18_monu.py', './budget.py']
train_cfg = dict(
    max_cycles=3,
    classifier=dict(config='classifier_r18.py', cfg_options=dict()),
    self_training=dict(num_students=2, teacher_epochs=_base_.phase_epochs,
                       student_epochs=_base_.phase_epochs),
    seeds=dict(keep_relevance=True))
