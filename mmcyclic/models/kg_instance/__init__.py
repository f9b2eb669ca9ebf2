"""KG Instance (keypoint-graph boxes + masks) as a back-end: see :mod:`.detector`."""
from .decoder import KGDecoder
from .detector import KGInstance, LabelSetKGInstance
from .heads import KGKeypointHead

__all__ = ['KGDecoder', 'KGInstance', 'KGKeypointHead', 'LabelSetKGInstance']
