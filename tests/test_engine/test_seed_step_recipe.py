"""The paper recipe's random K seeds depend on the training seed and the cycle (issue 24 item 9;
before, every run and cycle drew the same components)."""
import numpy as np

from mmcyclic.engine.seed_step import cycle_recipe
from mmcyclic.seeds import SeedRecipe


def _many_components():
    rel = np.zeros((120, 120))
    for y in range(5, 115, 12):
        for x in range(5, 115, 12):
            rel[y:y + 6, x:x + 6] = 1.0
    return rel


def test_random_draws_differ_by_training_seed_and_cycle_and_repeat():
    recipe = SeedRecipe(preset='paper', normalisation='max', min_area=10, max_seeds=5)
    rel = _many_components()

    def drawn(seed, cycle):
        return cycle_recipe(recipe, seed, cycle)(rel, key='img').label_map > 0

    first = drawn(0, 1)
    assert (drawn(0, 1) == first).all()
    assert not (drawn(1, 1) == first).all()
    assert not (drawn(0, 2) == first).all()
    assert cycle_recipe(recipe, 0, 1).config.max_seeds == 5  # the rest of the recipe is kept
