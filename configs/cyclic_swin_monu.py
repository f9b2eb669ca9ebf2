# Cyclic learning with Swin-T at both ends; seeds from attention rollout (the classifier
# config's `relevance`).   python tools/train.py configs/cyclic_swin_monu.py
_base_ = [
    './_base_/models/mask_rcnn_swin_t_fpn.py',
    './_base_/datasets/monuseg.py',
    './_base_/schedules/cyclic.py',
    './_base_/cyclic_runtime.py',
]
model = dict(type='LabelSetMaskRCNN')
train_cfg = dict(classifier=dict(config='classifier_swin_monu.py', cfg_options=dict()))
