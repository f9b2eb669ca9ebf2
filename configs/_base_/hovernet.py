# HoVer-Net (Graham et al. 2019) without a backbone, as two variables, so that any config can
# take HoVer-Net as its back-end and keep its own backbone (docs/hovernet.md):
#   _base_ = ['./cyclic_r50_monu.py', './_base_/hovernet.py']
#   model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
#                backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
# (the data preprocessor and backbone of the Mask R-CNN configs, the classifier's normalisation
# and mmpretrain module, fit as they are).
# hovernet_model: fully supervised; hovernet_label_set_model: weak supervision (label sets,
# the stain prior), the HoVer-Net counterpart of weak_supervision.py's label_set_model.
# The head reads its input channels off the backbone (ResNet-18..152, Swin-T); the decoder
# widths are lighter than the official ones for CPUs. The official sizes are
#   head=dict(feat_channels=(256, 512, 1024), stage_channels=(128, 256), dense_units=(4, 8),
#             growth=32, bottleneck=128, out_channels=64)
hovernet_model = dict(
    type='HoVerNet',
    head=dict(
        type='HoVerNetHead',
        feat_channels=(64, 128, 256),
        stage_channels=(64, 128),
        dense_units=(2, 4),
        bottleneck=64,
        growth=16,
        groups=4,
        out_channels=32,
        # 'skip': two x2 stages fed by a small stem on the image (full-resolution borders);
        # 'bilinear': the /4 logits upsampled x4 (cheaper, coarser).
        upsample='skip',
        full_res_channels=(16, 32),
        num_types=None,  # an int adds the type (TP) branch
        # NP CE, NP Dice, HV MSE, HV MSGE as the official PyTorch opt.py, which the Cyclic
        # Learning code trains with (the TF code and MONAI weigh the MSE 2).
        loss_weights=dict(np_ce=1.0, np_dice=1.0, hv_mse=1.0, hv_msge=1.0),
        # False: MSGE on dHV_x/dx and dHV_y/dy (the paper); True: the official code's cross terms.
        msge_cross_derivatives=False,
        min_hv_area=30),
    # Watershed constants of the official post_proc.py (40x, 0.25 um/px).
    test_cfg=dict(np_thr=0.5, min_blob_area=10, sobel_ksize=21, blur_ksize=3, marker_thr=0.4,
                  opening_ksize=5, min_marker_area=10))
# Pseudo labels: alpha-weighted label sets with one backbone pass; in each set's loss the other
# sets' nuclei and (stain prior, as weak_supervision.py) hematoxylin blobs of nucleus size that
# no label covers get pixel weight 0. train_cfg.ignore_unlabelled_stain_blobs=None turns the
# stain prior off; ignore_other_sets=False takes Eq. (2) literally.
# Sparse labels pull the NP probability of every nucleus down (about 20 seeds per image are
# positives, the other non-ignored pixels negatives): the teacher of the weak budget row peaked
# at NP 0.25 on training patches and found no nucleus at the official 0.5. np_thr 0.2 is the
# counterpart of the weak Mask R-CNN configs' score 0.05 (docs/results.md, "Back-ends at one
# CPU budget": validation Dice 0 at 0.5, teacher 0.22 -> student 0.40 at 0.2).
hovernet_label_set_model = dict(
    hovernet_model,
    type='LabelSetHoVerNet',
    ignore_other_sets=True,
    train_cfg=dict(ignore_unlabelled_stain_blobs=dict(min_area=30, max_area=2000)),
    test_cfg=dict(hovernet_model['test_cfg'], np_thr=0.2))
