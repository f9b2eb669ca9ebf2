"""HoVer-Net back-end: detector, decoders, targets, losses and post-processing."""
from .detector import HoVerNet, LabelSetHoVerNet
from .head import HoVerNetHead
from .post_process import hovernet_label_map, instances_from_label_map
from .targets import hover_targets

__all__ = ['HoVerNet', 'HoVerNetHead', 'LabelSetHoVerNet', 'hover_targets', 'hovernet_label_map',
           'instances_from_label_map']
