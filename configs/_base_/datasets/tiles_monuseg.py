# Image-level labelled tiles (the paper's D^C) for the front-end classifier.
# The default folder holds SIMULATED labels made from MoNuSeg training-split ground truth:
#   python tools/simulate_image_labels.py data/monuseg --out data/monuseg/tiles_sim64 --tile-size 64
# MoNuSeg has no nucleus-free 224 px crop, so the simulated tiles are 64 px and the
# classifier trains on them at native resolution (crop_size=64); being fully convolutional
# it then explains 224 px windows of the full images at the same resolution.
# With real pathologist tiles of any size, point data_root/ann_file at them (or use the
# pos/ neg/ folder layout with ann_file='') and set crop_size=224 as the paper.
dataset_type = 'ImageLabelTileDataset'
data_root = 'data/monuseg/tiles_sim64/'
crop_size = 64

train_pipeline = [
    dict(type='LoadTile'),
    dict(type='RandomCrop', crop_size=crop_size, pad_if_needed=True, padding_mode='reflect'),
    dict(type='RandomFlip', prob=[0.5, 0.5], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadTile'),
    dict(type='CenterCrop', crop_size=crop_size, auto_pad=True),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.csv',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='val.csv',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
# The paper reports the front-end F1-score; accuracy is logged too.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('precision', 'recall', 'f1-score'), average='macro'),
]
test_evaluator = val_evaluator
