# Runtime of the front-end classifiers (mmpretrain models): scope, hooks, and the
# relevance method and seed recipe that tools/extract_seeds.py and the cyclic loop read.
_base_ = './default_runtime.py'
default_scope = 'mmpretrain'
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='single-label/f1-score', rule='greater'),
    visualization=dict(type='VisualizationHook', enable=False))
visualizer = dict(type='UniversalVisualizer')
relevance = dict(type='LRP', composite='epsilon_plus_flat', target=1)
seed_recipe = dict(threshold=0.35, max_seeds=20)
