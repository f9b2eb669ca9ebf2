"""The streamed stitch (:mod:`mmcyclic.wsi.streaming_stitch`) equals the in-memory one."""
import numpy as np
import pytest
from scipy import ndimage
from wsi_helpers import model_grid_truth

from mmcyclic.apis.tiled_inference import tile_windows
from mmcyclic.evaluation.stitching import (TilePrediction, stitch_predictions_with_scores,
                                           tile_predictions_from_masks)
from mmcyclic.wsi.streaming_stitch import StreamingStitcher

from apis_helpers import same_partition


def jittered_predictions(gt, windows, seed):
    """Per tile, the GT nuclei it sees, some grown or shrunk by a pixel, random scores."""
    rng = np.random.default_rng(seed)
    out = []
    for y0, x0, y1, x1 in windows:
        crop = gt[y0:y1, x0:x1]
        masks, scores = [], []
        for k in np.unique(crop)[1:]:
            mask = crop == k
            change = rng.random()
            if change < 0.15:
                mask = ndimage.binary_dilation(mask)
            elif change < 0.3:
                mask = ndimage.binary_erosion(mask) & mask
            if mask.any():
                masks.append(mask)
                scores.append(float(rng.random()))
        out.append(tile_predictions_from_masks(np.array(masks, bool).reshape(-1, y1 - y0, x1 - x0),
                                               np.array(scores), (x0, y0), (y1 - y0, x1 - x0)))
    return out


def chain_across_bands(windows):
    """Overlapping elongated masks from tiles of two bands, a chain crossing the band border.

    Returns ``{tile index: predictions}``: three in the first tile of band 0
    reaching down into band 1, three in the first tile of band 1.
    """
    starts = sorted({w[0] for w in windows})
    first = [next(i for i, w in enumerate(windows) if w[0] == s) for s in starts[:2]]
    border = windows[first[0]][2]  # the last row of band 0's tiles
    chain = {first[0]: [], first[1]: []}
    for k in range(6):
        index = first[0] if k < 3 else first[1]
        top = max(border - 34 + 10 * k, windows[index][0])
        chain[index].append(TilePrediction(np.ones((min(24, border - top) if k < 3 else 24, 8),
                                                   bool), top, 40 + 3 * k, 0.5 + 0.05 * k,
                                           windows[index]))
    return chain


def streamed(per_tile, windows, shape, reload_state):
    stitcher = StreamingStitcher(shape)
    starts = sorted({w[0] for w in windows})
    nuclei = []
    for band, start in enumerate(starts):
        for window, preds in zip(windows, per_tile):
            if window[0] == start:
                stitcher.add(preds)
        nuclei += stitcher.finalise(starts[band + 1] if band + 1 < len(starts) else None)
        if reload_state:  # what a resumed run does
            state = stitcher.state_bytes()
            stitcher = StreamingStitcher(shape)
            stitcher.load_state(state)
    labels = np.zeros(shape, np.int32)
    for index, n in enumerate(nuclei, 1):
        window = labels[n.y0:n.y0 + n.mask.shape[0], n.x0:n.x0 + n.mask.shape[1]]
        assert not window[n.mask].any()  # finished nuclei never overlap
        window[n.mask] = index
    return labels, np.array([n.score for n in nuclei])


@pytest.mark.parametrize('tile,overlap,seed,reload_state', [
    (256, 64, 0, True),
    pytest.param(256, 64, 0, False, marks=pytest.mark.slow),
    pytest.param(160, 48, 1, False, marks=pytest.mark.slow),
    pytest.param(160, 48, 1, True, marks=pytest.mark.slow)])
def test_streamed_equals_in_memory_stitch(full_tissue, tile, overlap, seed, reload_state):
    gt = model_grid_truth(full_tissue)[:640, :768]
    windows = tile_windows(*gt.shape, tile, overlap)
    per_tile = jittered_predictions(gt, windows, seed)
    for index, chain in chain_across_bands(windows).items():
        per_tile[index] = per_tile[index] + chain
    flat = [p for preds in per_tile for p in preds]
    expected, expected_scores = stitch_predictions_with_scores(flat, gt.shape, whole_first=True)
    labels, scores = streamed(per_tile, windows, gt.shape, reload_state)
    assert same_partition(labels, expected)
    pairs = np.unique(np.stack([labels.ravel(), expected.ravel()]), axis=1)
    pairs = pairs[:, pairs[0] > 0]
    np.testing.assert_array_equal(scores[pairs[0] - 1], expected_scores[pairs[1] - 1])
    assert len(scores) == len(expected_scores)


def test_late_predictions_are_refused(full_tissue):
    stitcher = StreamingStitcher((100, 100))
    stitcher.add([TilePrediction(np.ones((5, 5), bool), 10, 10, 0.9, (0, 0, 50, 100))])
    assert len(stitcher.finalise(40)) == 1
    with pytest.raises(ValueError, match='frontier'):
        stitcher.add([TilePrediction(np.ones((5, 5), bool), 30, 10, 0.9, (0, 0, 50, 100))])


def test_open_predictions_stay_bounded_by_a_band(full_tissue):
    gt = model_grid_truth(full_tissue)
    windows = tile_windows(*gt.shape, 192, 48)
    per_tile = jittered_predictions(gt, windows, 3)
    stitcher = StreamingStitcher(gt.shape)
    starts = sorted({w[0] for w in windows})
    for band, start in enumerate(starts[:-1]):
        for window, preds in zip(windows, per_tile):
            if window[0] == start:
                stitcher.add(preds)
        stitcher.finalise(starts[band + 1])
        # Open: at most what the last two bands predicted.
        recent = sum(len(preds) for window, preds in zip(windows, per_tile)
                     if window[0] in starts[max(band - 1, 0):band + 1])
        assert len(stitcher.pending) <= recent
