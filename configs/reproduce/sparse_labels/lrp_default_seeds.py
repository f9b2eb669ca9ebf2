# Row: front-end seeds instead of ground truth: LRP seeds of one ResNet-18 tile classifier on
# the training images, with the default recipe (hematoxylin outlines
# under relevance peaks).
# scripts/experiments/results_sparse_labels.sh writes the seed file. No pixel label is used for
# training.
_base_ = './budget_gt20.py'
train_cfg = dict(seed_file='work_dirs/sparse_labels/seeds/lrp_default.json')
