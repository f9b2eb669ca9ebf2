"""Running trained models on images and exporting what they find."""
from .image_sources import open_image_source
from .overlay import draw_contours, save_comparison_figure
from .result import NucleiResult
from .segmenter import (InferenceSettings, NucleiSegmenter, OutputDirError, check_output_dir,
                        collect_inputs, segment_files)
from .tiled_inference import Tile, segment_tiled, tile_windows

__all__ = [
    'draw_contours', 'save_comparison_figure', 'NucleiResult', 'NucleiSegmenter',
    'InferenceSettings', 'segment_files', 'collect_inputs', 'check_output_dir', 'OutputDirError',
    'Tile', 'open_image_source',
    'segment_tiled', 'tile_windows'
]
