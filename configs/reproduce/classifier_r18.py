# The reproduction protocol's front-end classifier f^C (docs/reproduction.md): ResNet-18 from
# random initialisation on the SIMULATED 64 px MoNuSeg tiles (tools/simulate_image_labels.py;
# the paper's pathologist tile labels are not public), SGD lr 1e-2 after a 50-iteration warm-up,
# then constant, so that the validation-F1 curve of one long run (the "budget" row of
# make reproduce) is the curve of shorter budgets too. max_epochs is the budget chosen on that
# curve (docs/reproduction.md "Budgets").
_base_ = '../classifier_r18_monu.py'
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50)]
train_cfg = dict(max_epochs=12, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1, save_best=None))
