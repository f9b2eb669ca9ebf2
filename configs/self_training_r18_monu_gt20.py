# Back-end self-training alone on real MoNuSeg, seeds = 20 ground-truth nuclei per image
# (the paper's Table V "GT x 20"; uses pixel labels). ResNet-18 for a CPU budget.
#   python tools/make_gt_seeds.py --ann data/monuseg/annotations/instances_train_full.json \
#       --k 20 --out data/monuseg/seeds_gt20.json
_base_ = './self_training_r18_synthetic_gt20.py'
data_root = 'data/monuseg/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(seed_file='data/monuseg/seeds_gt20.json')
