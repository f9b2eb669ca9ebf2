"""The seed recipe on hand-made relevance maps, one test per step of Fig. 2."""
import numpy as np
import pytest
from skimage.color import hed2rgb
from skimage.draw import disk as draw_disk

from mmcyclic.seeds import SeedRecipe, SeedRecipeConfig
from mmcyclic.seeds.recipe import PAPER_RECIPE


def paper(*args, **kwargs) -> SeedRecipe:
    """A recipe over the paper preset: these maps are built for the relevance-outline steps."""
    return SeedRecipe(*args, preset='paper', **kwargs)


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
    recipe = paper(normalisation='max', closing_radius=0, min_area=10, max_area=400)
    result = recipe(rel)
    assert result.num_components == 4 and result.num_in_area == 2 and result.num_seeds == 2
    assert _components(result.label_map) == [((10, 10), (17, 17)), ((10, 40), (19, 49))]
    assert result.scores == [1.0, 0.6]


def test_convex_hull_and_closing_complete_shapes():
    rel = np.zeros((60, 60))
    rel[10:30, 10:14] = 1  # an L: hull fills the triangle between the arms
    rel[26:30, 10:30] = 1
    result = paper(normalisation='max', closing_radius=0, min_area=1)(rel)
    hull = result.label_map == 1
    assert hull.sum() > 200 and hull[20, 18] and not hull[12, 28]
    ring = np.zeros((60, 60))
    ring[35:50, 35:50] = 1
    ring[40:45, 40:45] = 0  # a hole: hull and closing fill it
    filled = paper(normalisation='max', closing_radius=2, min_area=1)(ring).label_map
    assert filled[42, 42] == 1 and (filled > 0).sum() == 225


def _many_blobs(n=30, size=6):
    rel = np.zeros((200, 200))
    for k in range(n):
        _square(rel, 5 + (k // 6) * 30, 5 + (k % 6) * 30, size, 1.0)
    return rel


def test_k_caps_and_reproducible_choice():
    rel = _many_blobs()
    recipe = paper(max_seeds=20, normalisation='max', min_area=1)
    first, again = recipe(rel, key='img'), recipe(rel, key='img')
    assert first.num_components == 30 and first.num_seeds == 20
    assert np.array_equal(first.label_map, again.label_map)
    other = paper(max_seeds=20, normalisation='max', min_area=1, seed=1)(rel, key='img')
    assert not np.array_equal(first.label_map > 0, other.label_map > 0)
    assert not np.array_equal(first.label_map > 0, recipe(rel, key='other').label_map > 0)
    # every kept seed is one of the components
    assert ((first.label_map > 0) <= (rel > 0)).all()


def test_no_relevance_above_theta_gives_no_seed():
    for rel in (np.zeros((50, 50)), -np.ones((50, 50)), np.full((50, 50), np.nan)):
        result = paper()(rel)
        assert result.num_seeds == 0 and not result.label_map.any()


def test_percentile_normalisation_ignores_outliers():
    rel = np.zeros((50, 50))
    rel[5:15, 5:15] = 1.0
    rel[30, 30] = 1000.0  # one extreme pixel
    by_max = paper(normalisation='max', min_area=1)(rel)
    robust = paper(normalisation='percentile', percentile=90, min_area=1)(rel)
    assert by_max.num_seeds == 1  # only the outlier survives theta
    assert robust.num_seeds == 2 and robust.label_map[10, 10] > 0


def test_config_validation():
    assert SeedRecipe(SeedRecipeConfig(threshold=0.5)).config.threshold == 0.5
    assert SeedRecipe({'max_seeds': 3}, threshold=0.2).config.to_dict()['max_seeds'] == 3
    for bad in (dict(threshold=1.5), dict(normalisation='mean'), dict(min_area=10, max_area=5),
                dict(connectivity=3), dict(selection='best'), dict(preset='literal'),
                dict(outline='eosin'), dict(min_solidity=1.5), dict(core_min_area=-1)):
        with pytest.raises(ValueError):
            SeedRecipe(**bad)


def test_score_selection_keeps_the_most_relevant():
    rel = np.zeros((100, 100))
    for k, value in enumerate((0.5, 1.0, 0.7, 0.9)):
        _square(rel, 10 + 20 * k, 10, 8, value)
    result = paper(selection='score', max_seeds=2, normalisation='max', min_area=1)(rel)
    assert result.scores == pytest.approx([1.0, 0.9])  # kept seeds numbered in component order
    assert result.label_map[32, 12] == 1 and result.label_map[72, 12] == 2


def test_minmax_normalisation_finds_blobs_on_a_positive_floor():
    # Rollout-like map: a positive floor everywhere, two brighter blobs.
    rel = np.full((60, 60), 1.0)
    _square(rel, 5, 5, 10, 1.2)
    _square(rel, 30, 40, 8, 1.3)
    plain = paper(min_area=1, max_area=500)(rel)
    minmax = paper(normalisation='minmax', min_area=1, max_area=500)(rel)
    assert plain.num_seeds == 0  # the whole map is one component above theta, too large
    assert minmax.num_seeds == 2
    assert minmax.label_map[10, 10] > 0 and minmax.label_map[33, 43] > 0
    assert minmax.label_map[50, 10] == 0


def _disk_mask(shape, centre, radius):
    mask = np.zeros(shape, bool)
    mask[draw_disk(centre, radius, shape=shape)] = True
    return mask


def _fragmented_nucleus(shape=(60, 60), centre=(30, 30), radius=12):
    """LRP-like nucleus: relevance on 3x3 dots 2 px apart (a 1 px valley between dots)."""
    rel = np.zeros(shape)
    dots = np.zeros(shape, bool)
    dots[::4, ::4] = True
    dots = np.logical_or.reduce([np.roll(np.roll(dots, dy, 0), dx, 1)
                                 for dy in (0, 1, 2) for dx in (0, 1, 2)])
    rel[dots & _disk_mask(shape, centre, radius)] = 1.0
    return rel


def test_closing_joins_a_fragmented_nucleus_into_one_seed():
    """Fails on the recipe that closed each component after its hull (a no-op on a convex
    set): the dots then stayed ~30 separate seeds."""
    rel = _fragmented_nucleus()
    apart = paper(normalisation='max', closing_radius=0, min_area=1, max_seeds=100)(rel)
    assert apart.num_seeds > 20
    joined = paper(normalisation='max', closing_radius=2, min_area=1, max_seeds=100)(rel)
    assert joined.num_components == 1 and joined.num_seeds == 1
    nucleus = _disk_mask(rel.shape, (30, 30), 12)
    seed = joined.label_map == 1
    assert (seed & nucleus).sum() / (seed | nucleus).sum() > 0.8


def test_touching_nuclei_separated_by_a_valley_stay_two_seeds():
    """Two nuclei whose relevance touches but for a 1 px valley below theta: a closing alone
    bridges the valley (one seed); with cores the two stay two and the fragments around each
    are still joined to it."""
    rel = np.zeros((40, 60))
    rel[10:30, 8:29] = 1.0
    rel[10:30, 30:51] = 1.0  # column 29 is the valley
    rel[12, 5:7] = 1.0  # a fragment 1 px left of the first nucleus
    merged = paper(normalisation='max', closing_radius=2, min_area=1)(rel)
    assert merged.num_seeds == 1
    kept = paper(normalisation='max', closing_radius=2, core_min_area=50, min_area=1)(rel)
    assert kept.num_seeds == 2
    first, second = kept.label_map[20, 15], kept.label_map[20, 40]
    assert first and second and first != second
    assert kept.label_map[12, 5] == first  # the fragment joined its nucleus


def test_components_are_8_connected_by_default():
    rel = np.zeros((30, 30))
    rel[5:10, 5:10] = 1.0
    rel[10:15, 10:15] = 1.0  # touches the first square at a corner only
    eight = paper(normalisation='max', closing_radius=0, min_area=1, convex_hull=False)(rel)
    four = paper(normalisation='max', closing_radius=0, min_area=1, convex_hull=False,
                 connectivity=1)(rel)
    assert eight.num_seeds == 1 and four.num_seeds == 2


def test_area_filter_applies_to_the_completed_seed():
    """A thin L of 39 px whose hull holds 210 px passes min_area=100 (the box shortcut must
    not drop it), and is dropped without the hull."""
    rel = np.zeros((40, 40))
    rel[5:25, 5] = 1.0
    rel[24, 5:25] = 1.0
    with_hull = paper(normalisation='max', closing_radius=0, min_area=100)(rel)
    assert with_hull.num_seeds == 1 and (with_hull.label_map > 0).sum() >= 200
    assert paper(normalisation='max', closing_radius=0, min_area=100,
                 convex_hull=False)(rel).num_seeds == 0


def test_min_solidity_drops_non_convex_components():
    rel = np.zeros((60, 60))
    rel[5:25, 5:9] = 1.0  # L-shape: solidity ~0.4
    rel[21:25, 5:25] = 1.0
    rel[_disk_mask(rel.shape, (45, 45), 8)] = 1.0  # disk: solidity ~1
    recipe = dict(preset='paper', normalisation='max', closing_radius=0, min_area=1)
    assert SeedRecipe(recipe)(rel).num_seeds == 2
    solid = SeedRecipe(recipe, min_solidity=0.9)(rel)
    assert solid.num_seeds == 1 and solid.label_map[45, 45] == 1


def _stained_image(shape, nuclei):
    """RGB H&E-like image: hematoxylin only inside the given disks."""
    hed = np.zeros(shape + (3,))
    for centre, radius in nuclei:
        hed[..., 0][_disk_mask(shape, centre, radius)] = 0.5
    return (hed2rgb(hed) * 255).astype(np.uint8)


def test_hematoxylin_outline_is_the_stained_blob_under_relevance():
    shape = (80, 80)
    image = _stained_image(shape, [((20, 20), 10), ((55, 55), 12)])
    rel = np.zeros(shape)
    rel[16:22, 18:24] = 1.0  # a small relevance spot on the first nucleus only
    recipe = paper(normalisation='max', outline='hematoxylin', min_area=50)
    assert recipe.needs_image
    seeds = recipe(rel, image=image)
    nucleus = _disk_mask(shape, (20, 20), 10)
    seed = seeds.label_map == 1
    assert seeds.num_seeds == 1 and (seed & nucleus).sum() / (seed | nucleus).sum() > 0.9
    assert not seeds.label_map[55, 55]
    relevance_only = paper(normalisation='max', min_area=1)(rel).label_map
    assert (relevance_only > 0).sum() < 0.5 * nucleus.sum()
    with pytest.raises(ValueError, match='needs the RGB image'):
        recipe(rel)


def test_min_coverage_keeps_only_blobs_the_relevance_covers():
    """A relevance spot over a sixth of the first nucleus and all of the second: any overlap
    keeps both blobs; min_coverage 0.5 keeps the second only."""
    shape = (80, 80)
    image = _stained_image(shape, [((20, 20), 10), ((55, 55), 10)])
    rel = np.zeros(shape)
    rel[16:22, 18:24] = 1.0
    rel[44:67, 44:67] = 1.0
    recipe = paper(normalisation='max', outline='hematoxylin', min_area=50, closing_radius=0)
    assert recipe(rel, image=image).num_seeds == 2
    covered = SeedRecipe(recipe.config.to_dict(), min_coverage=0.5)(rel, image=image)
    assert covered.num_seeds == 1 and covered.label_map[55, 55] and not covered.label_map[20, 20]
    with pytest.raises(ValueError, match='min_coverage'):
        SeedRecipe(min_coverage=1.5)


def test_presets_and_overrides():
    paper = SeedRecipe(preset='paper').config
    assert all(getattr(paper, k) == v for k, v in PAPER_RECIPE.items())
    assert paper.selection == 'random' and paper.outline == 'relevance'
    tuned = SeedRecipe(dict(preset='paper', max_seeds=5), threshold=0.5).config
    assert (tuned.preset, tuned.max_seeds, tuned.threshold) == ('paper', 5, 0.5)
    assert tuned.min_area == PAPER_RECIPE['min_area']
    default = SeedRecipe().config
    assert default == SeedRecipeConfig() and default.preset == 'default'
    assert (default.outline, default.selection) == ('hematoxylin', 'score')
    # a config round-trips through its dict (the seed set's info)
    assert SeedRecipe(tuned.to_dict()).config == tuned
