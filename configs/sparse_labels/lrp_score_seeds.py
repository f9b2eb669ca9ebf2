# Row: front-end seeds instead of ground truth: LRP seeds of one ResNet-18 tile classifier on the
# training images, recipe 'paper' with selection='score' (the K highest-relevance components)
# (scripts/results_sparse_labels.sh writes the seed file; docs/front_end.md section 7 has the
# classifier). No pixel label is used for training.
_base_ = './budget_gt20.py'
train_cfg = dict(seed_file='work_dirs/sparse_labels/seeds/lrp_score.json')
