"""Models: the label-set detector and backbone weight transfer."""
from .backbone_transfer import backbone_state_from_checkpoint, load_backbone
from .label_set_detector import LabelSetLossMixin, LabelSetMaskRCNN

__all__ = ['LabelSetLossMixin', 'LabelSetMaskRCNN', 'load_backbone', 'backbone_state_from_checkpoint']
