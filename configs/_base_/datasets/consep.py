# CoNSeP (26 train / 1 val / 14 test). Prepare with
#   python tools/dataset_converters/consep.py --src /path/to/CoNSeP --out data/consep
_base_ = './nuclei_instance.py'
data_root = 'data/consep/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
# Microns per pixel of the training images (40x): whole slides are read at this scale.
inference = dict(mpp=0.25)
