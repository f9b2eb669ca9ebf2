# Patch-level nuclei instance segmentation in the layout of docs/data_format.md.
# Child configs set `data_root` (and may change crop size or batch size).
dataset_type = 'NucleiDataset'
data_root = 'data/monuseg/'
crop_size = (224, 224)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    # The paper crops the 256x256 patches randomly to 224x224.
    dict(type='RandomCrop', crop_size=crop_size, recompute_bbox=True, allow_negative_crop=False),
    # A nucleus whose box overlaps the crop but whose mask does not gets an empty
    # recomputed box (log(0) in the box regression target): drop such instances.
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=True, keep_empty=False),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # Patches are scored at their native resolution; Resize records scale_factor 1.
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'source_id',
                    'patch_origin', 'source_shape', 'label_map_path')),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='annotations/instances_test.json'))

val_evaluator = dict(type='NucleiMetric')
test_evaluator = dict(type='NucleiMetric', legacy=True)

# Tiled inference on images of any size (mmcyclic.apis.NucleiSegmenter, tools/infer.py):
# tiles of the training patch size; the overlap must exceed the largest nucleus diameter.
# No score_thr here: inference keeps what test_evaluator.score_thr kept when the model was
# selected and tested (0.5 by default, 0.05 in the weak-supervision configs).
# min_area: predictions smaller than the smallest ground-truth nucleus are dropped (and counted):
# 15 px is the smallest of the 5595 nuclei of the MoNuSeg training split at 40x (0.5th
# percentile 34 px; `python scripts/nucleus_areas.py data/monuseg`). A dataset at another
# magnification sets its own.
# max_pixels: larger images are refused before they are read (whole slides: the slide command).
inference = dict(tile_size=256, overlap=64, batch_size=4, caps_tile_size=256, min_area=15,
                 max_pixels=100_000_000)
