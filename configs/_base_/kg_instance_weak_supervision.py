# Weak-supervision settings of KG Instance, the counterpart of weak_supervision.py's
# label_set_model (Mask R-CNN's, with its assigners). A KG Instance config takes them with
#   model = dict(..., **_base_.kg_instance_label_set_model)  (cyclic_kg_instance_r50_monu.py)
# α·L(M) + (1−α)·L(M′) with one backbone pass (the loop sets the weights per phase); each set's
# heatmap loss ignores the other set's nuclei (their boxes grown by the disc radius) and the
# hematoxylin blobs no label covers (stain prior), as Mask R-CNN's assigners do.
kg_instance_label_set_model = dict(
    label_set_weights=(0.66, 0.34),
    ignore_other_sets=True,
    train_cfg=dict(ignore_unlabelled_stain_blobs=dict(min_area=30, max_area=2000)))
