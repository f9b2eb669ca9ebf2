"""Models: the label-set detector, its assigner and backbone weight transfer."""
from .backbone_transfer import backbone_state_from_checkpoint, load_backbone
from .label_set_detector import LabelSetLossMixin, LabelSetMaskRCNN, select_label_set
from .task_modules import MaxIoUAssignerWithIgnoredInstances

__all__ = ['LabelSetLossMixin', 'LabelSetMaskRCNN', 'MaxIoUAssignerWithIgnoredInstances',
           'load_backbone', 'backbone_state_from_checkpoint', 'select_label_set']
