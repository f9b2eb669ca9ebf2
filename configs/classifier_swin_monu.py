# Front-end classifier f^C with a Swin-T backbone on image-level labelled MoNuSeg tiles.
# Swin needs inputs of at least its 7x7-window grid (patch 4 -> 28 px); the 64 px simulated
# tiles work (mmpretrain pads the windows). Relevance: attention rollout.
#   python tools/train.py configs/classifier_swin_monu.py
_base_ = [
    './_base_/models/classifier_swin_t.py',
    './_base_/datasets/tiles_monuseg.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/classifier_runtime.py',
]
relevance = dict(_delete_=True, type='AttentionRollout', head_fusion='mean')
# Rollout is positive everywhere (attention probabilities): evidence is the excess over the
# map's floor, hence 'minmax' normalisation before the threshold.
seed_recipe = dict(normalisation='minmax')
# ImageNet weights for the backbone from a LOCAL Swin-T file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/front_end.md).
pretrained = None
