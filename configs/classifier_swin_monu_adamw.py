# Swin-T tile classifier with the optimiser transformers are usually trained with from scratch
# (AdamW lr 1e-3, weight decay 0.05) instead of the paper's SGD; 2 epochs. On the 2-core CPU one
# epoch from random init learnt only the class prior (docs/front_end.md, "Swin-T + attention
# rollout"): a Swin front-end needs ImageNet weights or a much longer schedule.
#   python tools/train.py configs/classifier_swin_monu_adamw.py
_base_ = './classifier_swin_monu.py'
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))
train_cfg = dict(max_epochs=2)
# ImageNet weights for the backbone from a LOCAL Swin-T file, mmpretrain or torchvision layout,
# fine-tuned at the paper's rates (SGD 1e-4 instead of this AdamW); None: random init.
pretrained = None
