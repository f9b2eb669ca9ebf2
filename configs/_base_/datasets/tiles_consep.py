# Image-level labelled CoNSeP tiles (SIMULATED from instance ground truth by default):
#   python tools/simulate_image_labels.py data/consep --out data/consep/tiles_sim64 --tile-size 64
_base_ = './tiles_monuseg.py'
data_root = 'data/consep/tiles_sim64/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
