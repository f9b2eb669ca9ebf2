# Row: full_supervision.py with HoVer-Net R18 instead of Mask R-CNN R18: the same data (64
# training patches, every ground-truth nucleus), iterations, optimiser (SGD lr 0.02, warm-up,
# gradient clipping) and selection by validation Dice.
_base_ = ['./full_supervision.py', '../_base_/hovernet.py']
model = dict(_delete_=True, backbone=_base_.model.backbone, **_base_.hovernet_model)
