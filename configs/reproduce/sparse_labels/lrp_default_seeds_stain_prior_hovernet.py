# Row: lrp_default_seeds_stain_prior.py with HoVer-Net R18 instead of Mask R-CNN R18: the same
# seeds, self-training schedule and optimiser; label sets and the stain prior
# (train_cfg.ignore_unlabelled_stain_blobs, min_area 30, max_area 2000) as pixel weights 0.
_base_ = ['./lrp_default_seeds_stain_prior.py', '../../_base_/hovernet.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.hovernet_label_set_model)
