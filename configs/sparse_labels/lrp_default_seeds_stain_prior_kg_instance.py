# Row: lrp_default_seeds_stain_prior.py with KG Instance R18 as the back-end (same seeds,
# self-training schedule, α, pseudo-label threshold and stain prior; the heatmap loss ignores
# the other label set's nuclei and the unlabelled hematoxylin blobs).
_base_ = ['./lrp_default_seeds_stain_prior.py', '../_base_/kg_instance.py']
model = dict(_delete_=True, data_preprocessor=_base_.model.data_preprocessor,
             backbone=_base_.model.backbone, **_base_.kg_instance_label_set_model)
