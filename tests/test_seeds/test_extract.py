"""End to end on two synthetic images: classifier -> tiled LRP -> recipe -> seed set -> quality."""
import logging

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmcyclic.datasets.io import read_label_map
from mmcyclic.datasets.label_sets import load_image_infos, load_label_set
from mmcyclic.relevance import BaseRelevance
from mmcyclic.seeds import (SeedRecipe, extract_seed_set, load_classifier, save_seed_overlay,
                            seed_quality, summarise_quality)
from mmcyclic.seeds.quality import format_quality_table

R18 = 'configs/_base_/models/classifier_r18.py'


class ZeroRelevance(BaseRelevance):
    """Nothing is relevant anywhere."""

    def _compute(self, inputs):
        return torch.zeros(inputs.shape[0], *inputs.shape[-2:])


@pytest.fixture(scope='module')
def classifier():
    torch.manual_seed(0)
    return load_classifier(Config.fromfile(R18))


def test_extract_lrp_seed_set_and_reuse(classifier, tiny_dataset, tmp_path):
    infos = load_image_infos(tiny_dataset / 'annotations' / 'instances_train_full.json')
    recipe = SeedRecipe(preset='paper', threshold=0.35, max_seeds=5, min_area=5)
    out, cache = tmp_path / 'seeds.json', tmp_path / 'relevance'
    extraction = extract_seed_set(classifier, dict(type='LRP', target=1), recipe, infos,
                                  tiny_dataset, out, tile_size=64, min_overlap=16, cycle=2,
                                  relevance_dir=cache, progress=False)
    seeds = load_label_set(out)
    assert seeds.info['cycle'] == 2 and seeds.info['relevance']['type'] == 'LRP'
    assert seeds.info['recipe']['max_seeds'] == 5 and seeds.info == extraction.seeds.info
    assert sorted(p.name for p in cache.iterdir()) == ['synth_0.npy', 'synth_1.npy']
    assert all(r.num_seeds <= 5 for r in extraction.results.values())
    assert len(seeds.annotations) == sum(r.num_seeds for r in extraction.results.values())
    # Reusing the saved maps (no classifier) gives the same seeds.
    again = extract_seed_set(None, None, recipe, infos, tiny_dataset, tmp_path / 'again.json',
                             relevance_dir=cache, reuse_relevance=True, progress=False)
    for key, result in extraction.results.items():
        assert np.array_equal(result.label_map, again.results[key].label_map)
    # Stain outlines read the image even when the relevance map is reused.
    stain_recipe = SeedRecipe(preset='paper', outline='hematoxylin', min_area=5, max_seeds=5)
    stained = extract_seed_set(None, None, stain_recipe, infos, tiny_dataset,
                               tmp_path / 'stain.json', relevance_dir=cache,
                               reuse_relevance=True, progress=False)
    assert set(stained.results) == {'synth_0', 'synth_1'}
    with pytest.raises(FileNotFoundError, match='no saved relevance map'):
        extract_seed_set(None, None, recipe, infos, tiny_dataset, tmp_path / 'x.json',
                         relevance_dir=tmp_path / 'nothing', reuse_relevance=True, progress=False)
    # Quality report pieces run on real output.
    per_image = {k: seed_quality(r.label_map, read_label_map(tiny_dataset / f'labels/{k}.png'))
                 for k, r in extraction.results.items()}
    assert '**total**' in format_quality_table(per_image, summarise_quality(per_image))
    rel = np.load(cache / 'synth_0.npy')
    save_seed_overlay(tmp_path / 'overlay.png', np.zeros((96, 96, 3), np.uint8), rel,
                      extraction.results['synth_0'].label_map, threshold=0.35,
                      normalised=recipe.normalise(rel))
    assert (tmp_path / 'overlay.png').stat().st_size > 1000


def test_no_relevance_gives_empty_images_logged(classifier, tiny_dataset, tmp_path):
    infos = load_image_infos(tiny_dataset / 'annotations' / 'instances_train_full.json')
    infos.append({**infos[0], 'id': 3, 'file_name': 'images/missing.png', 'source_id': 'missing'})
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        extraction = extract_seed_set(classifier, ZeroRelevance(classifier), SeedRecipe(), infos,
                                      tiny_dataset, tmp_path / 'empty.json', tile_size=64,
                                      min_overlap=16, progress=False)
    finally:
        logger.removeHandler(handler)
    info = load_label_set(tmp_path / 'empty.json').info
    assert info['num_seeds'] == 0
    assert info['images_without_seeds'] == ['synth_0', 'synth_1', 'missing']
    assert list(extraction.unreadable) == ['missing'] and 'missing' in info['unreadable_images']
    messages = ' '.join(record.getMessage() for record in records)
    assert '3 of 3 images have no seed' in messages and 'skipped missing' in messages
