"""Evaluation: nuclei instance metrics (numpy/scipy) and folder scoring.

:mod:`.functional` holds the metrics; they import nothing from OpenMMLab, so
``from mmcyclic.evaluation import nuclei_metrics`` works without mmengine.
The mmengine ``NucleiMetric`` (in :mod:`.metrics`) can be re-exported here with
one more ``from .metrics import *`` line.
"""
from .functional import (aji, aji_plus, legacy_paper_metrics, nuclei_metrics, object_dice,
                         object_hausdorff, panoptic_quality, pixel_dice)

__all__ = [
    'pixel_dice', 'aji', 'aji_plus', 'panoptic_quality', 'object_dice', 'object_hausdorff',
    'nuclei_metrics', 'legacy_paper_metrics'
]
