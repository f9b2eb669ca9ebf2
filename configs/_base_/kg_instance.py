# KG Instance (Yi et al., MICCAI 2019; docs/kg_instance.md) without a backbone, as two
# variables, so that any config can take KG Instance as its back-end and keep its own backbone:
#   _base_ = ['./cyclic_r50_monu.py', './_base_/kg_instance.py']
#   model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
#                backbone=_base_.model.backbone, **_base_.kg_instance_label_set_model)
# (the data preprocessor and backbone of the Mask R-CNN configs, the classifier's normalisation
# and mmpretrain module, fit as they are; the same layout as hovernet.py).
# kg_instance_model: fully supervised; kg_instance_label_set_model: weak supervision (label
# sets, the stain prior), the counterpart of weak_supervision.py's label_set_model.
# The decoder reads its input channels off the backbone (ResNet-18..152, Swin-T) and the heads
# theirs off the decoder. Widths are CPU-practical, aimed at a train step within 2x a Mask
# R-CNN step with the same backbone (benchmarks/bench_backends.py, docs/benchmarks.md). The
# paper's widths (about 25x the backbone's MACs):
#   model = dict(neck=dict(channels=(64, 64, 256, 512, 1024), image_channels=64),
#                kp_head=dict(head_kernel=7))
kg_instance_model = dict(
    type='KGInstance',
    # Fused maps at strides 1, 2, 4, 8, 16, coarse to fine from the backbone's stride-32 map.
    neck=dict(type='KGDecoder', channels=(16, 32, 64, 64, 128), image_channels=16),
    # Heatmaps, short and mid offsets at strides 1, 2, 4, 8; discs of radius 5 (map pixels); a
    # box is a target at stride s if it is wider and taller than 2*5+1 map pixels there.
    kp_head=dict(type='KGKeypointHead', strides=(1, 2, 4, 8), head_kernel=3, kp_radius=5.0),
    # Masks: RoIAlign on the stride-2 decoder map, mmdet's FCN mask head (28x28).
    mask_roi_extractor=dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
        featmap_strides=[2]),
    mask_head=dict(
        type='FCNMaskHead',
        num_convs=2,
        conv_out_channels=64,
        num_classes=1,
        class_agnostic=True,
        loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
    # Scores are on [0, 1]: the sum of the group's keypoint heatmap probabilities / 5
    # (box_score='heatmap'; 'votes': their normalised vote heights), so a complete, confident
    # keypoint graph scores about 1. Grouping as the paper: votes smoothed with sigma 2, peaks
    # above 0.1 (the paper's 0.004 on its raw scale), no new group within 10 map pixels of a
    # same-type keypoint, boxes of all strides NMS'ed at IoU 0.5.
    test_cfg=dict(score_thr=0.05, nms=dict(iou_threshold=0.5), max_per_img=1000, min_box_size=2.0,
                  mask_thr_binary=0.5, sigma=2.0, peak_thr=0.1, skip_dist=10.0,
                  max_keypoints=1000, box_score='heatmap'))
# Pseudo labels: α·L(M) + (1−α)·L(M′) with one backbone pass (the loop sets the weights per
# phase); each set's heatmap loss ignores the other set's nuclei (their boxes grown by the disc
# radius) and the hematoxylin blobs no label covers (stain prior), as Mask R-CNN's assigners do.
# train_cfg.ignore_unlabelled_stain_blobs=None turns the stain prior off; ignore_other_sets=False
# takes Eq. (2) literally.
kg_instance_label_set_model = dict(
    kg_instance_model,
    type='LabelSetKGInstance',
    ignore_other_sets=True,
    train_cfg=dict(ignore_unlabelled_stain_blobs=dict(min_area=30, max_area=2000)))
