# Front-end classifier f^C: ResNet-50 on image-level labelled CoNSeP tiles.
_base_ = [
    './_base_/models/classifier_r50.py',
    './_base_/datasets/tiles_consep.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/classifier_runtime.py',
]
model = dict(backbone=dict(avg_down=True))  # as classifier_r50_monu.py
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/front_end.md).
pretrained = None
