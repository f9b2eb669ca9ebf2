# Generated H&E-like images with known nuclei (demo and fast tests). Prepare with
#   python tools/dataset_converters/make_synthetic.py --out data/synthetic
_base_ = './nuclei_instance.py'
data_root = 'data/synthetic/'
crop_size = (192, 192)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomCrop', crop_size=crop_size, recompute_bbox=True, allow_negative_crop=False),
    # A nucleus whose box overlaps the crop but whose mask does not gets an empty
    # recomputed box (log(0) in the box regression target): drop such instances.
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=True, keep_empty=False),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
# Microns per pixel of the training images (40x): whole slides are read at this scale.
# The generated nuclei are larger: the smallest of the 697 in the training split of
# tools/dataset_converters/make_synthetic.py's defaults is 56 px (0.5th percentile 67 px;
# `python scripts/nucleus_areas.py data/synthetic`).
inference = dict(mpp=0.25, min_area=50)
