"""Tissue masks (:mod:`mmcyclic.wsi.tissue`) against the generator's tissue."""
import numpy as np
import pytest

from mmcyclic.wsi.slide import open_slide
from mmcyclic.wsi.tissue import (TissueMask, detect_tissue, mask_from_annotations, mask_from_image,
                                 read_thumbnail)


def test_detected_tissue_matches_the_drawn_tissue(pyramids, synthetic):
    with open_slide(pyramids['generic']) as slide:
        found = detect_tissue(slide, 0.25, mask_mpp=4.0, dilate_um=0)
    d = found.downsample
    rows, cols = found.mask.shape
    truth = synthetic.tissue((np.arange(rows)[:, None] + 0.5) * d,
                             (np.arange(cols)[None] + 0.5) * d)
    iou = np.count_nonzero(found.mask & truth) / np.count_nonzero(found.mask | truth)
    assert iou >= 0.95
    assert found.area_mm2(0.25) == pytest.approx(truth.sum() * (d * 0.25e-3) ** 2, rel=0.06)


def test_a_slide_without_glass_is_all_tissue(tmp_path, full_tissue):
    from mmcyclic.wsi.synthetic_slide import write_synthetic_slide
    path = write_synthetic_slide(tmp_path / 'full.tif', full_tissue)
    with open_slide(path) as slide:
        found = detect_tissue(slide, 0.25, mask_mpp=4.0, dilate_um=0)
    assert found.mask.mean() > 0.97


def test_thumbnail_is_the_area_mean(pyramids, synthetic):
    with open_slide(pyramids['generic']) as slide:
        thumb = read_thumbnail(slide, 8.0)  # level 2 (/4) reduced by 2
    expected = synthetic.level_region(8, 0, 0, 192, 256)
    assert thumb.shape == expected.shape
    assert np.abs(thumb.astype(int) - expected).max() <= 1


def test_fraction_of_windows():
    mask = TissueMask(np.array([[1, 1, 0, 0], [1, 1, 0, 0]], bool), 10.0, 'test')
    assert mask.fraction(0, 0, 20, 20) == 1.0
    assert mask.fraction(0, 0, 40, 20) == 0.5
    assert mask.fraction(25, 0, 40, 20) == 0.0
    assert mask.fraction(500, 500, 600, 600) == 0.0


def test_masks_from_a_picture_and_from_annotations():
    picture = np.zeros((50, 100), np.uint8)
    picture[10:20, 30:60] = 255
    mask = mask_from_image(picture, (1000, 500), 'mask.png')
    assert mask.downsample == 10 and mask.fraction(300, 100, 600, 200) == 1.0
    with pytest.raises(ValueError, match='aspect'):
        mask_from_image(picture, (1000, 1000), 'mask.png')
    square = np.array([[0, 0], [400, 0], [400, 400], [0, 400], [0, 0]], float)
    hole = np.array([[100, 100], [100, 300], [300, 300], [300, 100], [100, 100]], float)
    other = np.array([[150, 150], [250, 150], [250, 250], [150, 250], [150, 150]], float)
    mask = mask_from_annotations([[square, hole]], (1000, 1000), 10.0, 'roi')
    assert mask.fraction(0, 0, 400, 100) == 1.0 and mask.fraction(100, 100, 300, 300) == 0.0
    # Another region inside the hole stays tissue: holes only cut their own polygon.
    mask = mask_from_annotations([[other], [square, hole]], (1000, 1000), 10.0, 'roi')
    assert mask.fraction(150, 150, 250, 250) == 1.0


def test_glass_at_the_border_is_not_a_hole():
    from mmcyclic.wsi.tissue import fill_small_holes
    mask = np.ones((20, 20), bool)
    mask[5:8, 5:8] = False  # a hole in the tissue
    mask[:, 17:] = False  # glass along the right edge, smaller than the limit
    filled = fill_small_holes(mask, 100)
    assert filled[5:8, 5:8].all() and not filled[:, 17:].any()
