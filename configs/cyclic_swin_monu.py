# Cyclic learning with Swin-T at both ends; seeds from attention rollout (the classifier
# config's `relevance`).   python tools/train.py configs/cyclic_swin_monu.py
_base_ = [
    './_base_/models/mask_rcnn_swin_t_fpn.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/cyclic.py',
    './_base_/cyclic_runtime.py',
    './_base_/weak_supervision.py',
]
# Pseudo-label settings (score threshold, LabelSetMaskRCNN, sampler sizes): see the file.
model = _base_.label_set_model
val_evaluator = _base_.sparse_label_evaluator
test_evaluator = _base_.sparse_label_evaluator
train_cfg = dict(classifier=dict(config='classifier_swin_monu.py', cfg_options=dict()))
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL Swin-T file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
