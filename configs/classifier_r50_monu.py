# Front-end classifier f^C: ResNet-50 on image-level labelled MoNuSeg tiles (simulated
# labels by default, see _base_/datasets/tiles_monuseg.py). Train with
#   python tools/train.py configs/classifier_r50_monu.py
# then make seeds with tools/extract_seeds.py (docs/front_end.md).
_base_ = [
    './_base_/models/classifier_r50.py',
    './_base_/datasets/tiles_monuseg.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/default_runtime.py',
]
# avg_down: the shortcut of a downsampling block averages 2x2 pixels before its 1x1 conv
# instead of a 1x1 stride-2 conv that reads one pixel in four. With the plain shortcut, LRP
# sends most relevance through the three strided 1x1 convs, so input relevance lands on a
# 32 px lattice instead of on nuclei (measured, docs/front_end.md). The back-end must use
# the same backbone setting (mmdet's ResNet has avg_down too) to share weights.
model = dict(backbone=dict(avg_down=True))
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmcyclic'], allow_failed_imports=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='single-label/f1-score', rule='greater'),
    visualization=dict(type='VisualizationHook', enable=False))
visualizer = dict(type='UniversalVisualizer')
# Seeds from this classifier (tools/extract_seeds.py): relevance method and recipe.
relevance = dict(type='LRP', composite='epsilon_plus_flat', target=1)
seed_recipe = dict(threshold=0.35, max_seeds=20)
