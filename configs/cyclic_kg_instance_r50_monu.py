# Cyclic learning on MoNuSeg with KG Instance as the back-end ("CL-KG Instance", paper Table VII):
#   python tools/train.py configs/cyclic_kg_instance_r50_monu.py
# = cyclic_r50_monu.py with the back-end swapped (same classifier, seeds, schedule, evaluation).
# The same two lines give any cyclic or self-training config KG Instance as its back-end.
_base_ = ['./cyclic_r50_monu.py', './_base_/kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_label_set_model)
# ImageNet weights for both ends' backbones (f^C, f^S) from a LOCAL ResNet-50 file, mmpretrain or
# torchvision layout, fine-tuned at the paper's rates; None: random init (docs/cyclic.md).
pretrained = None
