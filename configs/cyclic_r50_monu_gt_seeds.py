# Table V setting inside the cycle: seeds are K = 20 ground-truth nuclei per image instead
# of LRP seeds. USES PIXEL LABELS of the training images; not weakly supervised.
_base_ = './cyclic_r50_monu.py'
train_cfg = dict(seeds=dict(source='ground_truth', k=20))
