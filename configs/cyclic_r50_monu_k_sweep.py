# K-sweep example: at most K seeds per image (paper default 20). Run one work_dir per K:
#   for K in 5 10 20 40; do
#     python tools/train.py configs/cyclic_r50_monu_k_sweep.py --work-dir work_dirs/k_sweep/K$K \
#         --cfg-options train_cfg.seeds.recipe.max_seeds=$K
#   done
# then compare work_dirs/k_sweep/K*/summary.json.
_base_ = './cyclic_r50_monu.py'
train_cfg = dict(seeds=dict(recipe=dict(threshold=0.35, max_seeds=10)))
