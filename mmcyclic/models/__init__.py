"""Models: the label-set detectors (Mask R-CNN, HoVer-Net, KG Instance), their task modules,
the stain prior and backbone transfer."""
from .backbone_transfer import backbone_state_from_checkpoint, load_backbone
from .hovernet import HoVerNet, HoVerNetHead, LabelSetHoVerNet
from .kg_instance import KGDecoder, KGInstance, KGKeypointHead, LabelSetKGInstance
from .label_set_detector import (LabelSetLossMixin, LabelSetMaskRCNN, ignored_pixel_mask,
                                 select_label_set)
from .pretrained import PretrainedBackboneInit, backbone_weights_for
from .stain_prior import hematoxylin_blob_boxes
from .task_modules import ConfidentNegativeIgnoringSampler, MaxIoUAssignerWithIgnoredInstances

__all__ = ['ConfidentNegativeIgnoringSampler', 'HoVerNet', 'HoVerNetHead', 'KGDecoder',
           'KGInstance', 'KGKeypointHead', 'LabelSetHoVerNet', 'LabelSetKGInstance',
           'LabelSetLossMixin', 'LabelSetMaskRCNN', 'MaxIoUAssignerWithIgnoredInstances',
           'PretrainedBackboneInit', 'backbone_state_from_checkpoint', 'backbone_weights_for',
           'hematoxylin_blob_boxes', 'ignored_pixel_mask', 'load_backbone', 'select_label_set']
