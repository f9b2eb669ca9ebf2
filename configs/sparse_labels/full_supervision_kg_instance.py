# Row: full_supervision.py with KG Instance R18 as the back-end (same data, iterations,
# optimiser, validation and checkpoint selection). The optimiser stays SGD lr 0.02 with
# gradient clipping (the KG paper: Adam 1e-4 for 100 epochs from ImageNet weights): the same
# 192 iterations from random init as every row, so the rows differ in the back-end only.
_base_ = ['./full_supervision.py', '../_base_/kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_model)
