# Image-level labelled tiles of the generated H&E images (SIMULATED labels; the demo):
#   python tools/simulate_image_labels.py data/synthetic --out data/synthetic/tiles_sim32 \
#       --tile-size 32 --stride 8 --val-images 2 --max-per-class 600
# The generated images hold few nucleus-free 64 px regions, hence 32 px tiles.
_base_ = './tiles_monuseg.py'
data_root = 'data/synthetic/tiles_sim32/'
crop_size = 32
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
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
