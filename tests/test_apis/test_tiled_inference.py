"""Tiled inference (:mod:`mmcyclic.apis.tiled_inference`) with a deterministic fake detector."""
import numpy as np
import pytest

from mmcyclic.apis.image_sources import ArraySource
from mmcyclic.apis.tiled_inference import segment_tiled, tile_windows

from apis_helpers import GroundTruthDetector, max_extent, same_partition


@pytest.mark.parametrize('fit', [False, True])
@pytest.mark.parametrize('shape,tile,overlap', [((512, 512), 256, 64), ((300, 700), 128, 40),
                                                ((97, 1000), 256, 64), ((1000, 1000), 256, 0),
                                                ((2000, 2000), 512, 64), ((2000, 777), 1024, 64)])
def test_grid_covers_image_with_requested_overlap(shape, tile, overlap, fit):
    windows = tile_windows(*shape, tile, overlap, fit=fit)
    covered = np.zeros(shape, int)
    sides = {(y1 - y0, x1 - x0) for y0, x0, y1, x1 in windows}
    assert len(sides) == 1  # one tile shape, so tiles batch without padding
    for y0, x0, y1, x1 in windows:
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    for axis in (0, 1):  # neighbouring tiles along each axis overlap by >= overlap
        starts = sorted({w[axis] for w in windows})
        ends = sorted({w[axis + 2] for w in windows})
        assert all(end - start >= overlap for start, end in zip(starts[1:], ends[:-1]))


@pytest.mark.parametrize('length,tile,expected_side', [(2000, 512, 480), (2000, 1024, 736),
                                                       (1000, 256, 256), (300, 256, 192),
                                                       (500, 512, 500)])
def test_fitted_tiles_keep_their_number_and_shrink_to_a_multiple_of_32(length, tile,
                                                                       expected_side):
    fitted = tile_windows(length, length, tile, 64)
    plain = tile_windows(length, length, tile, 64, fit=False)
    assert len(fitted) == len(plain)
    side = fitted[0][2] - fitted[0][0]
    # expected: ceil((length + (n - 1) * 64) / n) rounded up to 32, at most the tile size
    assert side == expected_side and side <= tile


def test_every_object_up_to_overlap_lies_wholly_in_some_tile():
    shape, tile, overlap = (300, 430), 96, 30
    windows = tile_windows(*shape, tile, overlap)
    for y in range(0, shape[0] - overlap + 1):
        for x in range(0, shape[1] - overlap + 1):
            assert any(y0 <= y and y + overlap <= y1 and x0 <= x and x + overlap <= x1
                       for y0, x0, y1, x1 in windows), (y, x)


def test_image_no_larger_than_a_tile_is_one_pass():
    assert tile_windows(200, 150, 256, 64) == [(0, 0, 200, 150)]


@pytest.mark.parametrize('tile,batch', [(128, 4), (200, 3), (512, 1)])
def test_tiled_equals_untiled_on_real_crop(monuseg_crop, tile, batch):
    """Every nucleus comes out once and whole, exactly as the untiled 'prediction' (= GT)."""
    image, gt = monuseg_crop
    overlap = max_extent(gt)  # every nucleus is whole in some tile
    detector = GroundTruthDetector(gt)
    labels, scores = segment_tiled(ArraySource(image), detector, tile, overlap, batch_size=batch)
    assert same_partition(labels, gt)
    assert labels.max() == gt.max() == len(scores)
    assert max(detector.batches) <= batch
    if tile < 512:  # nuclei were really cut by tile borders and stitched back
        cut = [k for y0, x0, y1, x1 in detector.windows
               for k in np.unique(gt[y0:y1, x0:x1])[1:]
               if np.count_nonzero(gt[y0:y1, x0:x1] == k) < detector.areas[k]]
        assert len(set(cut)) > 10


def test_poorly_segmented_cut_copies_do_not_leave_seams(monuseg_crop):
    """Cut copies are eroded and score higher; the whole copy must still win and nothing splits."""
    image, gt = monuseg_crop
    detector = GroundTruthDetector(gt, erode_cut=True)
    labels, _ = segment_tiled(ArraySource(image), detector, 160, max_extent(gt), batch_size=4)
    assert same_partition(labels, gt)


def test_score_threshold_and_empty_predictions():
    image = np.zeros((100, 120, 3), np.uint8)
    mask = np.zeros((1, 64, 64), bool)
    mask[0, 10:20, 10:20] = True

    def predictor(tiles):
        return [(mask[:, :t.image.shape[0], :t.image.shape[1]], np.array([0.3])) for t in tiles]

    labels, scores = segment_tiled(ArraySource(image), predictor, 64, 16, score_thr=0.5)
    assert not labels.any() and scores.size == 0
    labels, scores = segment_tiled(ArraySource(image), predictor, 64, 16, score_thr=0.2)
    assert labels.max() == len(scores) > 0 and np.all(scores == 0.3)


def test_only_tile_sized_windows_are_read(monuseg_crop):
    """Memory is bounded by the tile: the source is never asked for more than one tile."""
    image, gt = monuseg_crop

    class Recording(ArraySource):
        areas = []

        def read(self, window):
            self.areas.append((window[2] - window[0]) * (window[3] - window[1]))
            return super().read(window)

    segment_tiled(Recording(image), GroundTruthDetector(gt), 128, 48, batch_size=2)
    assert max(Recording.areas) == 128 * 128


def test_bad_settings_are_rejected():
    source = ArraySource(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match='min_overlap'):
        segment_tiled(source, lambda tiles: [], 32, 32)
    with pytest.raises(ValueError, match='batch_size'):
        segment_tiled(source, lambda tiles: [], 32, 8, batch_size=0)
