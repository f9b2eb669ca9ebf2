# Front-end classifier f^C: ResNet-50 on image-level labelled MoNuSeg tiles (simulated
# labels by default, see _base_/datasets/tiles_monuseg.py). Train with
#   python tools/train.py configs/classifier_r50_monu.py
# then make seeds with tools/extract_seeds.py (docs/front_end.md).
_base_ = [
    './_base_/models/classifier_r50.py',
    './_base_/datasets/tiles_monuseg.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/classifier_runtime.py',
]
# avg_down: the shortcut of a downsampling block averages 2x2 pixels before its 1x1 conv
# instead of a 1x1 stride-2 conv that reads one pixel in four. With the plain shortcut, LRP
# sends most relevance through the three strided 1x1 convs, so input relevance lands on a
# 32 px lattice instead of on nuclei (measured, docs/front_end.md). The back-end uses the
# same mmpretrain ResNet with avg_down (configs/_base_/models/mask_rcnn_r50_fpn.py).
model = dict(backbone=dict(avg_down=True))
# ImageNet weights for the backbone from a LOCAL ResNet-50 file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates; None: random init (docs/front_end.md).
pretrained = None
