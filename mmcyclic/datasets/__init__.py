"""Datasets, converters, data I/O and the synthetic H&E generator."""
from .nuclei_dataset import NucleiDataset

__all__ = ['NucleiDataset']
