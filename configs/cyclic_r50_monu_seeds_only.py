# Baseline: no weights shared in either direction; only the pseudo seeds link the ends. Every
# cycle is the "straightforward combination" of a CNN interpreting method and self-training
# (paper §V-D): the classifier continues from its own previous weights, and every teacher and
# student starts from the detector's own initialisation.
_base_ = './cyclic_r50_monu.py'
train_cfg = dict(mode='seeds_only')
