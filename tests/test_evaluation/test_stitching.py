"""Stitching tile predictions into whole-image label maps."""
import numpy as np
from skimage.draw import disk

from mmcyclic.evaluation.stitching import stitch_predictions, tile_predictions_from_masks


def _tiles(shape, tile, stride):
    for y in range(0, shape[0] - tile + 1, stride):
        for x in range(0, shape[1] - tile + 1, stride):
            yield y, x


def _predict_from_gt(gt, y, x, tile):
    """A perfect model that sees one tile: the GT nuclei visible in it."""
    crop = gt[y:y + tile, x:x + tile]
    ids = [i for i in np.unique(crop) if i]
    masks = np.stack([crop == i for i in ids]) if ids else np.zeros((0, tile, tile), bool)
    return tile_predictions_from_masks(masks, np.linspace(0.9, 0.6, len(ids)), (x, y), (tile, tile))


def _gt_with_nuclei(shape, centres, radius=9):
    gt = np.zeros(shape, np.int32)
    for k, (r, c) in enumerate(centres, 1):
        rr, cc = disk((r, c), radius, shape=shape)
        gt[rr, cc] = k
    return gt


def test_nucleus_cut_by_tile_border_is_merged_once():
    # Tiles of 64 with stride 48: the band 48..63 is seen by both tiles.
    centres = [(20, 55), (40, 20), (75, 90), (56, 56)]
    gt = _gt_with_nuclei((112, 112), centres)
    preds = [p for y, x in _tiles(gt.shape, 64, 48) for p in _predict_from_gt(gt, y, x, 64)]
    stitched = stitch_predictions(preds, gt.shape)
    assert len(np.unique(stitched)) - 1 == len(centres)
    for k in range(1, len(centres) + 1):
        ids = np.unique(stitched[gt == k])
        assert len(ids) == 1 and ids[0] > 0  # one label per nucleus, no seam
    assert np.array_equal(stitched > 0, gt > 0)


def test_duplicate_from_same_tile_is_dropped_and_disjoint_nuclei_kept():
    mask = np.zeros((1, 32, 32), bool)
    mask[0, 5:15, 5:15] = True
    dup = mask.copy()
    other = np.zeros((1, 32, 32), bool)
    other[0, 20:30, 20:30] = True
    preds = (tile_predictions_from_masks(mask, [0.9], (0, 0), (32, 32))
             + tile_predictions_from_masks(dup, [0.8], (0, 0), (32, 32))
             + tile_predictions_from_masks(other, [0.7], (0, 0), (32, 32)))
    stitched = stitch_predictions(preds, (32, 32))
    assert sorted(np.unique(stitched)) == [0, 1, 2]
    assert np.count_nonzero(stitched == 1) == 100


def test_neighbouring_nuclei_in_overlap_band_are_not_merged():
    # Two different nuclei touching inside the shared band: each tile sees both,
    # the higher-score copy of each wins and they stay distinct.
    gt = _gt_with_nuclei((64, 96), [(32, 40), (32, 58)], radius=8)
    preds = [p for y, x in [(0, 0), (0, 32)] for p in _predict_from_gt(gt, y, x, 64)]
    stitched = stitch_predictions(preds, gt.shape)
    assert len(np.unique(stitched)) - 1 == 2
    assert np.array_equal(stitched > 0, gt > 0)


def test_empty_predictions_give_empty_map():
    assert not stitch_predictions([], (10, 12)).any()
