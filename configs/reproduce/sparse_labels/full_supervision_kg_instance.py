# Row: full_supervision.py with KG Instance R18 as the back-end (same data, iterations,
# validation and checkpoint selection).
_base_ = ['./full_supervision.py', '../../_base_/kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_model)
# Optimiser: Adam lr 1e-3 (the KG paper trains with Adam, 1e-4 from ImageNet weights). Chosen
# on validation, 192 iterations from random init (vote-height box scores then): Adam 1e-4
# validated at Dice 0 at every score threshold down to 0.02, SGD 0.02 at Dice 0 (score 0.5),
# Adam 1e-3 at Dice 0.13 (score 0.02). Commands and the longer run: docs/kg_instance.md.
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=1e-3, weight_decay=1e-4))
