"""The mpp policy (:func:`mmcyclic.wsi.resolution.plan_resolution`) and the model grid."""
import numpy as np
import pytest

from mmcyclic.wsi.resolution import ModelGridReader, ResolutionError, plan_resolution
from mmcyclic.wsi.slide import open_slide
from mmcyclic.wsi.synthetic_slide import write_synthetic_slide


@pytest.fixture(scope='module')
def slide_at(tmp_path_factory, full_tissue):
    """``mpp -> path`` of the same pyramid with different recorded mpp."""
    root = tmp_path_factory.mktemp('mpp')
    cache = {}

    def make(mpp):
        if mpp not in cache:
            cache[mpp] = write_synthetic_slide(root / f'{mpp}.tif', full_tissue, mpp=mpp,
                                               compression='zlib')
        return cache[mpp]
    return make


def test_no_mpp_anywhere_names_the_flag(slide_at):
    with open_slide(slide_at(None)) as slide:
        with pytest.raises(ResolutionError, match='--slide-mpp'):
            plan_resolution(slide, 0.25)
        plan = plan_resolution(slide, 0.25, slide_mpp=0.25)
    assert (plan.level, plan.resample, plan.mpp_source) == (0, 1.0, '--slide-mpp')


@pytest.mark.parametrize('mpp', [0.25, 0.263, 0.23])
def test_within_tolerance_is_read_as_is(slide_at, mpp):
    with open_slide(slide_at(mpp)) as slide:
        plan = plan_resolution(slide, 0.25)
    assert (plan.level, plan.resample, plan.level0_per_model) == (0, 1.0, 1.0)
    assert 'as is' in plan.decision


def _block_means(image: np.ndarray, k: int) -> np.ndarray:
    h, w = image.shape[0] // k, image.shape[1] // k
    return np.round(image.astype(np.float32).reshape(h, k, w, k, 3).mean(axis=(1, 3)))


@pytest.mark.parametrize('mpp,plan_expected,shape,expected', [
    # 0.125 µm/px: level 1 (0.25) read as is.
    (0.125, (1, 1.0, 2.0), (384, 512), lambda s: s.level_region(2, 0, 0, 384, 512)),
    # 0.0625 µm/px (levels 0.0625, 0.125): level 1 downsampled x2 by block means.
    (0.0625, (1, 2.0, 4.0), (192, 256),
     lambda s: _block_means(s.level_region(2, 0, 0, 384, 512), 2)),
])
def test_finer_slides_read_a_level_and_downsample_exactly(slide_at, full_tissue, mpp,
                                                          plan_expected, shape, expected):
    with open_slide(slide_at(mpp)) as slide:
        plan = plan_resolution(slide, 0.25)
        assert (plan.level, plan.resample, plan.level0_per_model) == plan_expected
        reader = ModelGridReader(slide, plan)
        assert reader.shape == shape
        np.testing.assert_array_equal(reader.read((0, 0, *shape)), expected(full_tissue))


def test_coarsest_fine_enough_level_is_chosen(slide_at):
    with open_slide(slide_at(0.125)) as slide:
        # Finer than the coarsest level (0.25): that level downsampled by 2.
        plan = plan_resolution(slide, 0.5, tolerance=0.1)
        assert (plan.level, plan.resample, plan.level0_per_model) == (1, 2.0, 4.0)
        assert plan_resolution(slide, 0.25, tolerance=0.0).level == 1


def test_non_integer_resampling_gives_each_model_pixel_one_value(slide_at):
    """Overlapping tiles must see the same pixels where they overlap (the stitch needs it)."""
    with open_slide(slide_at(0.2)) as slide:
        plan = plan_resolution(slide, 0.27, tolerance=0.05)
        assert plan.level == 0 and plan.resample == pytest.approx(1.35)
        reader = ModelGridReader(slide, plan)
        a = reader.read((0, 0, 200, 200))
        b = reader.read((150, 120, 300, 330))
    np.testing.assert_array_equal(a[150:, 120:], b[:50, :80])


def test_coarser_slide_is_refused_unless_upsampling_is_allowed(slide_at):
    with open_slide(slide_at(0.5)) as slide:
        with pytest.raises(ResolutionError, match='--allow-upsample'):
            plan_resolution(slide, 0.25)
        plan = plan_resolution(slide, 0.25, allow_upsample=True)
        assert (plan.level, plan.resample, plan.level0_per_model) == (0, 0.5, 0.5)
        assert ModelGridReader(slide, plan).read((0, 0, 40, 60)).shape == (40, 60, 3)
