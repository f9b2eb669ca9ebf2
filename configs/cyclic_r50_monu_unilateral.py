# Ablation (paper §V-D, Table IV): unilateral knowledge sharing. Weights flow from the back-end
# to the front-end only: each cycle's best f^S backbone initialises the next classifier, but
# every teacher and student starts from the detector's own initialisation, not from the
# classifier's backbone. Its first cycle is the paper's "straightforward combination" of a CNN
# interpreting method and self-training from pseudo seeds.
_base_ = './cyclic_r50_monu.py'
train_cfg = dict(mode='unilateral')
