# Row: front-end seeds of the default recipe (lrp_default_seeds.py) with the missing-label
# remedy of gt20_confident_negatives.py.
_base_ = ['./lrp_default_seeds.py']
model = dict(train_cfg=dict(rcnn=dict(
    sampler=dict(type='ConfidentNegativeIgnoringSampler', score_thr=0.5))))
