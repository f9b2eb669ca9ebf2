# Cyclic learning on CoNSeP with Swin-T at both ends (attention-rollout seeds).
_base_ = './cyclic_swin_monu.py'
data_root = 'data/consep/'
tiles = 'data/consep/tiles_sim64/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(classifier=dict(cfg_options=dict(
    train_dataloader=dict(dataset=dict(data_root=tiles)),
    val_dataloader=dict(dataset=dict(data_root=tiles)))))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL Swin-T file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
