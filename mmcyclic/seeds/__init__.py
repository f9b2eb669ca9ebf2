"""Seeds (pseudo masks) from relevance maps: recipe, extraction, quality.

Seed sets are label sets (:mod:`mmcyclic.datasets.label_sets`).
"""
from .extract import SeedExtraction, extract_seed_set, image_relevance, load_classifier
from .quality import format_quality_table, save_seed_overlay, seed_quality, summarise_quality
from .recipe import SeedRecipe, SeedRecipeConfig, SeedResult
from .report import seed_quality_report

__all__ = [
    'SeedRecipe', 'SeedRecipeConfig', 'SeedResult', 'extract_seed_set',
    'image_relevance', 'load_classifier', 'SeedExtraction', 'seed_quality',
    'summarise_quality', 'format_quality_table', 'save_seed_overlay', 'seed_quality_report'
]
