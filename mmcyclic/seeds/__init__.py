"""Seeds (pseudo masks) from relevance maps: recipe, seed sets, extraction, quality."""
from .extract import SeedExtraction, extract_seed_set, image_relevance, load_classifier
from .quality import format_quality_table, save_seed_overlay, seed_quality, summarise_quality
from .recipe import SeedRecipe, SeedRecipeConfig, SeedResult
from .report import seed_quality_report
from .seed_set import (load_image_infos, make_seed_set, read_seed_set, seed_label_maps,
                       write_seed_set)

__all__ = [
    'SeedRecipe', 'SeedRecipeConfig', 'SeedResult', 'make_seed_set', 'write_seed_set',
    'read_seed_set', 'seed_label_maps', 'load_image_infos', 'extract_seed_set',
    'image_relevance', 'load_classifier', 'SeedExtraction', 'seed_quality',
    'summarise_quality', 'format_quality_table', 'save_seed_overlay', 'seed_quality_report'
]
