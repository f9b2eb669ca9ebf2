# The reproduction protocol's cyclic learning (docs/reproduction.md): weak HoVer-Net R18 from
# random initialisation on the cycle of ./cyclic_mask_rcnn_r18.py (the front-end classifier of
# ./classifier_r18.py on simulated 64 px tile labels, bilateral sharing, 3 cycles without an early
# stop, teacher + 2 students per cycle on the 12 Kumar training images (192 patches), selection
# by validation Dice on the 4 validation images, relevance maps kept for the K sweep). Every
# back-end phase trains ./budget.py's phase_epochs, as the fully supervised row.
#   python tools/train.py configs/reproduce/cyclic_hovernet_r18.py --cfg-options randomness.seed=0
_base_ = ['./cyclic_mask_rcnn_r18.py', '../_base_/hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
