"""Stitch instance predictions made on overlapping tiles into one label map.

Each prediction is a binary mask cropped to its bounding box, placed in
full-image coordinates, with a score and the window of the tile it came from.

Rule (stated once, used by evaluation and tiled inference):

1. Predictions are placed in order of decreasing score. With ``whole_first``
   (tiled inference, where tiles overlap by at least a nucleus diameter so
   every nucleus is whole in some tile), predictions that reach within
   ``CUT_MARGIN`` pixels of a tile edge lying inside the image come after all
   that do not: the whole copy of a nucleus is placed before the copies that
   neighbouring tiles' borders cut, which the model segments less reliably.
2. A prediction that overlaps an already placed instance *from another tile*
   is compared with it inside the two tiles' shared window only, where both
   tiles saw the same pixels. If their masks agree there (IoU inside the
   shared window >= ``merge_iou``), they are one nucleus cut by a tile border
   and are merged (the new pixels join the placed instance).
3. Otherwise the prediction keeps only pixels no earlier instance claimed; if
   that is less than ``min_visible`` of its area it is a duplicate and dropped.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

Window = Tuple[int, int, int, int]  # y0, x0, y1, x1 (exclusive)
# A predicted mask of a nucleus cut by a tile edge often stops a pixel or two
# short of the edge: within this many pixels it counts as cut (rule 1).
CUT_MARGIN = 2


@dataclass
class TilePrediction:
    """One predicted instance in full-image coordinates.

    Attributes:
        mask: Boolean mask of the instance cropped to its box.
        y0: Row of ``mask[0, 0]`` in the full image.
        x0: Column of ``mask[0, 0]`` in the full image.
        score: Detection score.
        tile: Window ``(y0, x0, y1, x1)`` of the tile that predicted it.
    """

    mask: np.ndarray
    y0: int
    x0: int
    score: float
    tile: Window

    @property
    def window(self) -> Window:
        return (self.y0, self.x0, self.y0 + self.mask.shape[0], self.x0 + self.mask.shape[1])


def _intersect(a: Window, b: Window) -> Window:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _is_empty(w: Window) -> bool:
    return w[0] >= w[2] or w[1] >= w[3]


def _mask_in(pred: TilePrediction, window: Window) -> np.ndarray:
    """``pred``'s mask restricted to ``window`` (shape of the window)."""
    out = np.zeros((window[2] - window[0], window[3] - window[1]), dtype=bool)
    inter = _intersect(pred.window, window)
    if _is_empty(inter):
        return out
    out[inter[0] - window[0]:inter[2] - window[0], inter[1] - window[1]:inter[3] - window[1]] = \
        pred.mask[inter[0] - pred.y0:inter[2] - pred.y0, inter[1] - pred.x0:inter[3] - pred.x0]
    return out


def _agree_in_shared_window(a: TilePrediction, b: TilePrediction, merge_iou: float) -> bool:
    shared = _intersect(a.tile, b.tile)
    if _is_empty(shared):
        return False
    mask_a, mask_b = _mask_in(a, shared), _mask_in(b, shared)
    union = np.count_nonzero(mask_a | mask_b)
    return union > 0 and np.count_nonzero(mask_a & mask_b) / union >= merge_iou


def stitch_predictions(predictions: Iterable[TilePrediction],
                       image_shape: Tuple[int, int],
                       merge_iou: float = 0.5,
                       min_visible: float = 0.5) -> np.ndarray:
    """Build an instance label map (int32, 0 = background) from tile predictions.

    See :func:`stitch_predictions_with_scores` for the arguments.
    """
    return stitch_predictions_with_scores(predictions, image_shape, merge_iou, min_visible)[0]


def _cut_by_tile_edge(pred: TilePrediction, image_shape: Tuple[int, int]) -> bool:
    """Whether ``pred`` reaches within ``CUT_MARGIN`` of a tile edge that is not an image border."""
    (y0, x0, y1, x1), tile = pred.window, pred.tile
    return ((0 < tile[0] and y0 - tile[0] <= CUT_MARGIN)
            or (0 < tile[1] and x0 - tile[1] <= CUT_MARGIN)
            or (tile[2] < image_shape[0] and tile[2] - y1 <= CUT_MARGIN)
            or (tile[3] < image_shape[1] and tile[3] - x1 <= CUT_MARGIN))


def stitch_predictions_with_scores(predictions: Iterable[TilePrediction],
                                   image_shape: Tuple[int, int],
                                   merge_iou: float = 0.5,
                                   min_visible: float = 0.5,
                                   whole_first: bool = False,
                                   canvas: Optional[Window] = None
                                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Stitch tile predictions; also return each instance's score.

    Args:
        predictions: Instances from all tiles of one image.
        image_shape: ``(H, W)`` of the full image.
        merge_iou: Agreement inside the shared window needed to merge two
            instances from different tiles.
        min_visible: Minimum fraction of a non-merged instance that must be
            unclaimed for it to be kept.
        whole_first: Place predictions cut by an inner tile edge after the
            others (rule 1).
        canvas: The window of the image the label map covers (default: all
            of it). Predictions interact only through shared pixels, so a group
            of predictions whose masks touch no others' can be stitched on the
            canvas of its own box with the same result
            (:mod:`mmcyclic.wsi.streaming_stitch`).

    Returns:
        The label map of ``canvas`` (ids 1..N in order of placement) and the N scores
        (``scores[i - 1]`` is the score of id ``i``; a merged instance keeps the
        score of its first, highest-scoring part).
    """
    canvas = _intersect(canvas or (0, 0, *image_shape), (0, 0, *image_shape))
    labels = np.zeros((max(canvas[2] - canvas[0], 0), max(canvas[3] - canvas[1], 0)),
                      dtype=np.int32)
    placed: Dict[int, TilePrediction] = {}
    for pred in sorted(predictions,
                       key=lambda p: (whole_first and _cut_by_tile_edge(p, image_shape), -p.score)):
        win = _intersect(pred.window, canvas)
        if _is_empty(win):
            continue
        mask = _mask_in(pred, win)
        region = labels[win[0] - canvas[0]:win[2] - canvas[0],
                        win[1] - canvas[1]:win[3] - canvas[1]]
        area = np.count_nonzero(mask)
        if area == 0:
            continue
        overlapped = np.unique(region[mask])
        merge_into = next((int(i) for i in overlapped
                           if i and placed[i].tile != pred.tile
                           and _agree_in_shared_window(placed[i], pred, merge_iou)), None)
        free = mask & (region == 0)
        if merge_into is not None:
            region[free] = merge_into
        elif np.count_nonzero(free) >= min_visible * area:
            new_id = len(placed) + 1
            region[free] = new_id
            placed[new_id] = pred
    scores = np.array([placed[i].score for i in range(1, len(placed) + 1)], dtype=np.float64)
    return labels, scores


def tile_predictions_from_masks(masks: np.ndarray, scores: np.ndarray, origin: Tuple[int, int],
                                tile_shape: Tuple[int, int]) -> List[TilePrediction]:
    """Convert full-tile boolean masks ``(N, h, w)`` into cropped ``TilePrediction``s.

    Args:
        masks: Boolean masks in tile coordinates.
        scores: One score per mask.
        origin: ``(x0, y0)`` of the tile in the full image (COCO order).
        tile_shape: ``(h, w)`` of the tile.
    """
    x0, y0 = int(origin[0]), int(origin[1])
    tile: Window = (y0, x0, y0 + tile_shape[0], x0 + tile_shape[1])
    out = []
    for mask, score in zip(masks, scores):
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        crop = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        out.append(TilePrediction(np.ascontiguousarray(crop), y0 + int(rows[0]), x0 + int(cols[0]),
                                  float(score), tile))
    return out
