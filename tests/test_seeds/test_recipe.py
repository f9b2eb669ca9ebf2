"""The seed recipe on hand-made relevance maps."""
import numpy as np
import pytest

from mmcyclic.seeds import SeedRecipe, SeedRecipeConfig


def _square(rel, y, x, size, value):
    rel[y:y + size, x:x + size] = value


def _components(label_map):
    return sorted(tuple(map(tuple, np.argwhere(label_map == i)[[0, -1]]))
                  for i in range(1, label_map.max() + 1))


def test_exact_components_and_filters():
    rel = np.zeros((100, 100))
    _square(rel, 10, 10, 8, 1.0)  # kept
    _square(rel, 10, 40, 10, 0.6)  # kept (0.6 > 0.35 after max-normalisation)
    _square(rel, 60, 60, 6, 0.3)  # below theta
    _square(rel, 40, 80, 2, 1.0)  # 4 px: below min_area
    _square(rel, 70, 5, 25, 0.9)  # 625 px: above max_area
    recipe = SeedRecipe(normalisation='max', closing_radius=0, min_area=10, max_area=400)
    result = recipe(rel)
    assert result.num_components == 4 and result.num_in_area == 2 and result.num_seeds == 2
    assert _components(result.label_map) == [((10, 10), (17, 17)), ((10, 40), (19, 49))]
    assert result.scores == [1.0, 0.6]


def test_convex_hull_and_closing_complete_shapes():
    rel = np.zeros((60, 60))
    rel[10:30, 10:14] = 1  # an L: hull fills the triangle between the arms
    rel[26:30, 10:30] = 1
    result = SeedRecipe(normalisation='max', closing_radius=0, min_area=1)(rel)
    hull = result.label_map == 1
    assert hull.sum() > 200 and hull[20, 18] and not hull[12, 28]
    ring = np.zeros((60, 60))
    ring[35:50, 35:50] = 1
    ring[40:45, 40:45] = 0  # a hole: hull and closing fill it
    filled = SeedRecipe(normalisation='max', closing_radius=2, min_area=1)(ring).label_map
    assert filled[42, 42] == 1 and (filled > 0).sum() == 225


def test_neighbouring_seeds_do_not_merge():
    rel = np.zeros((40, 40))
    rel[10:20, 5:15] = 1
    rel[10:20, 16:26] = 1  # one-pixel gap; closing radius 3 would bridge it
    result = SeedRecipe(normalisation='max', closing_radius=3, min_area=1)(rel)
    assert result.num_seeds == 2
    assert set(np.unique(result.label_map[10:20, 5:15])) == {1}
    assert set(np.unique(result.label_map[10:20, 16:26])) == {2}


def _many_blobs(n=30, size=6):
    rel = np.zeros((200, 200))
    for k in range(n):
        _square(rel, 5 + (k // 6) * 30, 5 + (k % 6) * 30, size, 1.0)
    return rel


def test_k_caps_and_reproducible_choice():
    rel = _many_blobs()
    recipe = SeedRecipe(max_seeds=20, normalisation='max', min_area=1)
    first, again = recipe(rel, key='img'), recipe(rel, key='img')
    assert first.num_components == 30 and first.num_seeds == 20
    assert np.array_equal(first.label_map, again.label_map)
    other = SeedRecipe(max_seeds=20, normalisation='max', min_area=1, seed=1)(rel, key='img')
    assert not np.array_equal(first.label_map > 0, other.label_map > 0)
    assert not np.array_equal(first.label_map > 0, recipe(rel, key='other').label_map > 0)
    # every kept seed is one of the components
    assert ((first.label_map > 0) <= (rel > 0)).all()


def test_no_relevance_above_theta_gives_no_seed():
    for rel in (np.zeros((50, 50)), -np.ones((50, 50)), np.full((50, 50), np.nan)):
        result = SeedRecipe()(rel)
        assert result.num_seeds == 0 and not result.label_map.any()


def test_percentile_normalisation_ignores_outliers():
    rel = np.zeros((50, 50))
    rel[5:15, 5:15] = 1.0
    rel[30, 30] = 1000.0  # one extreme pixel
    by_max = SeedRecipe(normalisation='max', min_area=1)(rel)
    robust = SeedRecipe(normalisation='percentile', percentile=90, min_area=1)(rel)
    assert by_max.num_seeds == 1  # only the outlier survives theta
    assert robust.num_seeds == 2 and robust.label_map[10, 10] > 0


def test_config_validation():
    assert SeedRecipe(SeedRecipeConfig(threshold=0.5)).config.threshold == 0.5
    assert SeedRecipe({'max_seeds': 3}, threshold=0.2).config.to_dict()['max_seeds'] == 3
    for bad in (dict(threshold=1.5), dict(normalisation='mean'), dict(min_area=10, max_area=5),
                dict(connectivity=3), dict(selection='best')):
        with pytest.raises(ValueError):
            SeedRecipe(**bad)


def test_score_selection_keeps_the_most_relevant():
    rel = np.zeros((100, 100))
    for k, value in enumerate((0.5, 1.0, 0.7, 0.9)):
        _square(rel, 10 + 20 * k, 10, 8, value)
    result = SeedRecipe(selection='score', max_seeds=2, normalisation='max', min_area=1)(rel)
    assert result.scores == pytest.approx([1.0, 0.9])  # kept seeds numbered in component order
    assert result.label_map[32, 12] == 1 and result.label_map[72, 12] == 2


def test_minmax_normalisation_finds_blobs_on_a_positive_floor():
    # Rollout-like map: a positive floor everywhere, two brighter blobs.
    rel = np.full((60, 60), 1.0)
    _square(rel, 5, 5, 10, 1.2)
    _square(rel, 30, 40, 8, 1.3)
    plain = SeedRecipe(min_area=1, max_area=500)(rel)
    minmax = SeedRecipe(normalisation='minmax', min_area=1, max_area=500)(rel)
    assert plain.num_seeds == 0  # the whole map is one component above theta, too large
    assert minmax.num_seeds == 2
    assert minmax.label_map[10, 10] > 0 and minmax.label_map[33, 43] > 0
    assert minmax.label_map[50, 10] == 0


@pytest.mark.parametrize('hull,radius', [(True, 2), (False, 2), (True, 0), (True, 4)])
def test_completed_seed_stays_in_its_component_box(hull, radius):
    """The recipe skips components whose box is under min_area; that is exact only because
    hull + closing never leave the box. Checked on every component of noisy maps."""
    from scipy import ndimage
    rng = np.random.default_rng(0)
    recipe = SeedRecipe(convex_hull=hull, closing_radius=radius)
    for _ in range(3):
        relevance = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 1.0)
        components, _ = ndimage.label(recipe.normalise(relevance) > 0.35)
        for index, slices in enumerate(ndimage.find_objects(components), start=1):
            completed = recipe._complete(components[slices] == index)
            pad = radius + 1
            outside = completed.copy()
            outside[pad:completed.shape[0] - pad, pad:completed.shape[1] - pad] = False
            assert not outside.any()
