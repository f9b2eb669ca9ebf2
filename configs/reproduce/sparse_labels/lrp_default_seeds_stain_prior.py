# Row: front-end seeds of the default recipe (lrp_default_seeds.py) with the missing-label
# remedy of gt20_stain_prior.py.
_base_ = ['./lrp_default_seeds.py']
model = dict(train_cfg=dict(
    ignore_unlabelled_stain_blobs=dict(_delete_=True, min_area=30, max_area=2000)))
