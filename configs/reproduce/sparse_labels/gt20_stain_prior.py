# Row: GT x 20 + stain prior: hematoxylin-positive blobs of nucleus size that no label covers
# are ignored (neither positive nor negative) by the RPN and RoI assigners.
_base_ = './budget_gt20.py'
model = dict(train_cfg=dict(
    ignore_unlabelled_stain_blobs=dict(_delete_=True, min_area=30, max_area=2000)))
