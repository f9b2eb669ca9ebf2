"""Evaluation: nuclei instance metrics (numpy/scipy), folder scoring, and the
mmengine ``NucleiMetric`` that scores stitched whole images.

:mod:`.functional` imports nothing from OpenMMLab.
"""
from .functional import (aji, aji_plus, legacy_paper_metrics, nuclei_metrics, object_dice,
                         object_hausdorff, panoptic_quality, pixel_dice)
from .metrics import NucleiMetric

__all__ = [
    'pixel_dice', 'aji', 'aji_plus', 'panoptic_quality', 'object_dice', 'object_hausdorff',
    'nuclei_metrics', 'legacy_paper_metrics', 'NucleiMetric'
]
