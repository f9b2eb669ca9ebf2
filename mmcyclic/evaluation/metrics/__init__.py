"""mmengine metrics."""
from .nuclei_metric import NucleiMetric

__all__ = ['NucleiMetric']
