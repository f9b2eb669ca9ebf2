# Table VII back-ends in the reproduction protocol: ./cyclic_mask_rcnn_r18.py with weak
# KG Instance R18 (LabelSetKGInstance) as the model.
_base_ = ['./cyclic_mask_rcnn_r18.py', '../_base_/kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_label_set_model)
# KG Instance's optimiser of the budget rows (Adam 1e-3, docs/kg_instance.md).
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=1e-3, weight_decay=1e-4))
