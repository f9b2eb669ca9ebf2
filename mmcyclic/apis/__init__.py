"""Running trained models on images and exporting what they find."""
from .overlay import draw_contours, save_comparison_figure
from .result import NucleiResult
from .segmenter import InferenceSettings, NucleiSegmenter, collect_inputs, segment_files
from .tiling import Tile, open_image_source, segment_tiled, tile_windows

__all__ = [
    'draw_contours', 'save_comparison_figure', 'NucleiResult', 'NucleiSegmenter',
    'InferenceSettings', 'segment_files', 'collect_inputs', 'Tile', 'open_image_source',
    'segment_tiled', 'tile_windows'
]
