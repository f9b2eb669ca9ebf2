# Front-end classifier f^C with a Swin-T backbone on image-level labelled MoNuSeg tiles.
# Swin needs inputs of at least its 7x7-window grid (patch 4 -> 28 px); the 64 px simulated
# tiles work (mmpretrain pads the windows). Relevance: attention rollout.
#   python tools/train.py configs/classifier_swin_monu.py
_base_ = [
    './_base_/models/classifier_swin_t.py',
    './_base_/datasets/tiles_monuseg.py',
    './_base_/schedules/classifier_sgd.py',
    './_base_/default_runtime.py',
]
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmcyclic'], allow_failed_imports=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='single-label/f1-score', rule='greater'),
    visualization=dict(type='VisualizationHook', enable=False))
visualizer = dict(type='UniversalVisualizer')
relevance = dict(type='AttentionRollout', head_fusion='mean')
seed_recipe = dict(threshold=0.35, max_seeds=20)
