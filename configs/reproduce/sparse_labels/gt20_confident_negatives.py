# Row: GT x 20 + background recalibration: a negative RoI the box head already scores as a
# nucleus (probability >= 0.5) is left out of the sampled negatives.
_base_ = './budget_gt20.py'
model = dict(train_cfg=dict(rcnn=dict(
    sampler=dict(type='ConfidentNegativeIgnoringSampler', score_thr=0.5))))
