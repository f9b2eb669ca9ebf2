"""ImageNet backbone weights from a local file (mmpretrain or torchvision layout) for both ends."""
from .initializer import PretrainedBackboneInit
from .weights_file import BackboneWeights, backbone_weights_for

__all__ = ['BackboneWeights', 'PretrainedBackboneInit', 'backbone_weights_for']
