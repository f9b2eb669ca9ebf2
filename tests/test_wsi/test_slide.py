"""Reading slides (:mod:`mmcyclic.wsi.slide`): levels, mpp and its source, pixels, errors."""
import numpy as np
import pytest
import tifffile

from mmcyclic.wsi.slide import SlideReadError, open_slide, openslide_available
from mmcyclic.wsi.synthetic_slide import write_synthetic_slide

SOURCES = {'generic': 'TIFF resolution (CENTIMETER)', 'svs': 'Aperio ImageDescription MPP',
           'ome': 'OME PhysicalSizeX/Y'}
VENDORS = {'generic': 'generic-tiff', 'svs': 'aperio', 'ome': 'ome'}


@pytest.mark.parametrize('kind', ['generic', 'svs', 'ome'])
def test_levels_and_mpp_per_kind(pyramids, synthetic, kind):
    with open_slide(pyramids[kind]) as slide:
        assert slide.backend == 'tifffile' and slide.vendor == VENDORS[kind]
        assert slide.level_dimensions == [(2048, 1536), (1024, 768), (512, 384)]
        assert slide.level_downsamples == [1.0, 2.0, 4.0]
        assert slide.mpp.x == pytest.approx(0.25, abs=1e-6)
        assert slide.mpp.y == pytest.approx(0.25, abs=1e-6)
        assert slide.mpp.source == SOURCES[kind]
        assert slide.objective_power == (40.0 if kind == 'svs' else None)


@pytest.mark.parametrize('kind', ['generic', 'svs', 'ome'])
def test_pixels_equal_the_drawn_slide_on_every_level(pyramids, synthetic, kind):
    with open_slide(pyramids[kind]) as slide:
        expected, _ = synthetic.region(700, 900, 300, 260)
        np.testing.assert_array_equal(slide.read(0, 900, 700, 260, 300), expected)
        np.testing.assert_array_equal(slide.read(1, 300, 200, 129, 77),
                                      synthetic.level_region(2, 200, 300, 77, 129))
        np.testing.assert_array_equal(slide.read(2, 0, 0, 512, 384),
                                      synthetic.level_region(4, 0, 0, 384, 512))


def test_region_outside_the_slide_is_white(pyramids, synthetic):
    with open_slide(pyramids['generic']) as slide:
        region = slide.read(0, 2000, 1500, 100, 80)
    np.testing.assert_array_equal(region[:36, :48], synthetic.region(1500, 2000, 36, 48)[0])
    assert (region[36:] == 255).all() and (region[:, 48:] == 255).all()


def test_resolution_units_and_missing_mpp(tmp_path, full_tissue):
    image = np.zeros((64, 64, 3), np.uint8)
    inch = tmp_path / 'inch.tif'
    tifffile.imwrite(inch, image, tile=(32, 32), resolution=(25400 / 0.5, 25400 / 0.5),
                     resolutionunit='INCH', metadata=None)
    with open_slide(inch) as slide:
        assert slide.mpp.mean == pytest.approx(0.5) and 'INCH' in slide.mpp.source
    editor = tmp_path / 'editor.tif'  # 72 dpi: an image editor's default, not a scan
    tifffile.imwrite(editor, image, tile=(32, 32), resolution=(72, 72), resolutionunit='INCH')
    none = write_synthetic_slide(tmp_path / 'none.tif', full_tissue, mpp=None)
    for path in (editor, none):
        with open_slide(path) as slide:
            assert slide.mpp is None


def test_unreadable_slides_are_named(tmp_path, pyramids):
    with pytest.raises(SlideReadError, match='no such file'):
        open_slide(tmp_path / 'absent.svs')
    fake = tmp_path / 'fake.svs'
    fake.write_bytes(b'not a tiff at all')
    with pytest.raises(SlideReadError, match='fake.svs'):
        open_slide(fake, backend='tifffile')
    truncated = tmp_path / 'truncated.tif'
    truncated.write_bytes(pyramids['generic'].read_bytes()[:200_000])
    with pytest.raises(SlideReadError, match='truncated'):
        open_slide(truncated, backend='tifffile')


@pytest.mark.skipif(openslide_available(), reason='tests the message shown without OpenSlide')
def test_non_tiff_formats_name_the_openslide_extra(tmp_path):
    mrxs = tmp_path / 'slide.mrxs'
    mrxs.write_bytes(b'')
    with pytest.raises(SlideReadError, match=r'mmcyclic\[openslide\]'):
        open_slide(mrxs)


@pytest.mark.skipif(not openslide_available(), reason='OpenSlide (mmcyclic[openslide]) not '
                    'installed')
@pytest.mark.parametrize('kind', ['generic', 'svs', 'ome'])
def test_same_pixels_and_mpp_as_openslide(pyramids, kind):
    rng = np.random.default_rng(0)
    with open_slide(pyramids[kind], 'tifffile') as ours, \
            open_slide(pyramids[kind], 'openslide') as theirs:
        assert theirs.mpp.mean == pytest.approx(ours.mpp.mean)
        # OpenSlide sees one level of an OME-TIFF (no SubIFD pyramids).
        levels = 1 if kind == 'ome' else ours.level_count
        assert theirs.level_dimensions[:levels] == ours.level_dimensions[:levels]
        for _ in range(20):
            level = int(rng.integers(levels))
            width, height = ours.level_dimensions[level]
            w, h = (int(v) for v in rng.integers(1, 300, 2))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            np.testing.assert_array_equal(ours.read(level, x, y, w, h),
                                          theirs.read(level, x, y, w, h))
