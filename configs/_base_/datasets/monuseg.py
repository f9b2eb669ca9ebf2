# MoNuSeg, Kumar split (16 train = 12 train + 4 val, 14 test), 16 overlapped
# 256x256 patches per 1000x1000 image. Prepare with
#   python tools/dataset_converters/monuseg.py --src ../shared/data/monuseg --out data/monuseg
_base_ = './nuclei_instance.py'
data_root = 'data/monuseg/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
# Microns per pixel of the training images (40x): whole slides are read at this scale.
inference = dict(mpp=0.25)
