# Row: GT x 20 + both missing-label remedies (stain prior and background recalibration).
_base_ = ['./gt20_stain_prior.py']
model = dict(train_cfg=dict(rcnn=dict(
    sampler=dict(type='ConfidentNegativeIgnoringSampler', score_thr=0.5))))
