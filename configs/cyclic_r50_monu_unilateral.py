# Ablation (paper Table IV): unilateral knowledge sharing. The classifier's backbone
# initialises the back-end, but no weights flow back: each cycle's classifier continues
# from its own previous weights.
_base_ = './cyclic_r50_monu.py'
train_cfg = dict(mode='unilateral')
