"""Datasets, converters, data I/O and the synthetic H&E generator."""
from .nuclei_dataset import NucleiDataset
from .tile_dataset import ImageLabelTileDataset, LoadTile

__all__ = ['NucleiDataset', 'ImageLabelTileDataset', 'LoadTile']
