# Your own data: a folder of images and a folder of instance label maps. Prepare with
#   python tools/dataset_converters/generic.py --images IMG_DIR --labels LABEL_DIR --out data/mydata
# and point data_root at the output (override with --cfg-options data_root=...).
_base_ = './nuclei_instance.py'
data_root = 'data/mydata/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
