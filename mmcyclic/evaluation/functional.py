"""Nuclei instance-segmentation metrics on integer label maps (numpy/scipy only).

Every metric is computed from one *contingency table* of the two maps: the ids
of each map are relabelled to ``1..N`` (0 stays background), the pixels where
both maps have an object are coded as ``(gt, pred)`` pairs, and one
``np.bincount`` (or ``np.unique`` when the table would be large) gives the
intersection of every overlapping pair. Object areas come from the relabelling.
Distances (object Hausdorff) use per-object bounding boxes from
``scipy.ndimage.find_objects`` on the relabelled maps. No function builds one
full-image mask per object, which is what makes the reference code of
HoVer-Net slow (seconds per image) and memory hungry (GBs).

Conventions shared by all functions (see ``docs/metrics.md``):

* Inputs are 2-D integer instance label maps of equal shape; 0 is background,
  any other value is an object id. Ids need not be contiguous and may be huge
  (e.g. ``2**31 - 1``). Negative ids are rejected.
* Ties are broken towards the lowest object id (ids are compared in their
  original numeric order).
* Empty maps: a metric comparing two maps without objects is perfect (1.0);
  when exactly one map is empty it is 0.0, except ``object_hausdorff``, which is
  NaN when either map has no object (a distance to nothing is undefined).

:func:`legacy_paper_metrics` reproduces what the Cyclic Learning authors'
evaluation script computes. Those numbers are NOT the metrics their names say
(the "AJI" is a foreground IoU); they exist only to compare with the paper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Dict, List, Optional, Tuple

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

__all__ = [
    'pixel_dice', 'aji', 'aji_plus', 'panoptic_quality', 'object_dice', 'object_hausdorff',
    'nuclei_metrics', 'legacy_paper_metrics', 'Contingency', 'contingency'
]

# Relabel through a dense lookup table while the largest id is at most this
# many times the pixel count (plus a floor); beyond, sort with np.unique. The
# table costs one int32 per possible id, so this bounds it by ~4 bytes x 4 x
# pixels (16 MB for a 1000x1000 image) and keeps huge ids (2**31-1) cheap.
_LUT_IDS_PER_PIXEL = 4
_LUT_MIN_IDS = 1 << 16
# A dense n_gt x n_pred intersection table (int64) is used up to this many
# entries (32 MB); larger tables are built sparsely from the overlap pixels.
_DENSE_TABLE_MAX = 1 << 22
# Above this many point pairs, a point-set distance uses a KD-tree instead of a
# dense (sources x targets) distance matrix, to bound time and memory (1 MB).
_DENSE_DISTANCE_MAX = 1 << 18


# --------------------------------------------------------------------------- #
# Input checking and the shared contingency table
# --------------------------------------------------------------------------- #
def _check_label_map(arr: np.ndarray, name: str) -> None:
    """Reject bool/float/non-integer arrays, non-2-D arrays and negative ids."""
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f'{name} has dtype {arr.dtype}: a binary (or float) mask is not an instance '
            'label map. Give each nucleus its own integer id (0 = background), e.g. label '
            'the connected components with `scipy.ndimage.label(mask)[0]`.')
    if arr.ndim != 2:
        raise ValueError(f'{name} must be a 2-D label map, got shape {arr.shape}')
    if arr.size and np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
        raise ValueError(f'{name} has negative ids; ids must be >= 0 (0 = background)')


def _check_pair(gt: np.ndarray, pred: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f'gt and pred must have the same shape, got gt {gt.shape} '
                         f'and pred {pred.shape}')
    _check_label_map(gt, 'gt')
    _check_label_map(pred, 'pred')
    return gt, pred


def _relabel(labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map object ids to ``1..N`` in increasing id order (0 stays 0).

    Returns:
        The relabelled map (int32, same shape), the original ids (length N) and
        the object areas in pixels (int64, length N).
    """
    flat = labels.reshape(-1)
    max_id = int(flat.max()) if flat.size else 0
    if max_id <= _LUT_IDS_PER_PIXEL * flat.size + _LUT_MIN_IDS:
        # O(pixels) counting instead of an O(pixels log pixels) sort.
        if not np.can_cast(flat.dtype, np.intp):
            flat = flat.astype(np.intp)
        counts = np.bincount(flat, minlength=max_id + 1)
        ids = np.flatnonzero(counts[1:]) + 1
        lut = np.zeros(max_id + 1, dtype=np.int32)
        lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
        return lut[flat].reshape(labels.shape), ids, counts[ids].astype(np.int64)
    uniq, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1).astype(np.int32)
    if uniq[0] == 0:
        return inverse.reshape(labels.shape), uniq[1:], counts[1:].astype(np.int64)
    return (inverse + 1).reshape(labels.shape), uniq, counts.astype(np.int64)


@dataclass(frozen=True)
class Contingency:
    """Overlap statistics of two label maps, shared by every metric (see :func:`contingency`).

    Object ``k`` (0-based) of a map is id ``k + 1`` in the relabelled map and
    ``*_ids[k]`` in the input. The pair arrays list every (gt, pred) pair with a
    non-zero intersection, sorted by gt then pred.

    Attributes:
        gt (np.ndarray): Relabelled ground truth, objects ``1..n_gt``.
        pred (np.ndarray): Relabelled prediction, objects ``1..n_pred``.
        gt_ids (np.ndarray): Input id of each ground-truth object.
        pred_ids (np.ndarray): Input id of each predicted object.
        gt_area (np.ndarray): Pixels of each ground-truth object (int64).
        pred_area (np.ndarray): Pixels of each predicted object (int64).
        pair_gt (np.ndarray): 0-based ground-truth object of each overlapping pair.
        pair_pred (np.ndarray): 0-based predicted object of each overlapping pair.
        pair_inter (np.ndarray): Intersection in pixels of each pair; ``pair_union``
            and ``pair_iou`` follow from it.
    """

    gt: np.ndarray
    pred: np.ndarray
    gt_ids: np.ndarray
    pred_ids: np.ndarray
    gt_area: np.ndarray
    pred_area: np.ndarray
    pair_gt: np.ndarray
    pair_pred: np.ndarray
    pair_inter: np.ndarray

    @property
    def n_gt(self) -> int:
        return len(self.gt_area)

    @property
    def n_pred(self) -> int:
        return len(self.pred_area)

    @cached_property
    def pair_union(self) -> np.ndarray:
        return self.gt_area[self.pair_gt] + self.pred_area[self.pair_pred] - self.pair_inter

    @cached_property
    def pair_iou(self) -> np.ndarray:
        # Exact float division: equal rational IoUs give bit-identical floats,
        # so ties are real ties and the lowest-id rule applies to them.
        return self.pair_inter / self.pair_union

    @cached_property
    def gt_slices(self) -> List[Tuple[slice, slice]]:
        return ndimage.find_objects(self.gt, max_label=self.n_gt)

    @cached_property
    def pred_slices(self) -> List[Tuple[slice, slice]]:
        return ndimage.find_objects(self.pred, max_label=self.n_pred)

    @cached_property
    def gt_boxes(self) -> np.ndarray:
        return _boxes(self.gt_slices)

    @cached_property
    def pred_boxes(self) -> np.ndarray:
        return _boxes(self.pred_slices)

    @property
    def coord_dtype(self) -> type:
        # dy² + dx² fits int32 while both are below 32768 px.
        return np.int32 if max(self.gt.shape, default=0) <= 32767 else np.int64

    @cached_property
    def gt_edge(self) -> np.ndarray:
        return _boundary(self.gt)

    @cached_property
    def pred_edge(self) -> np.ndarray:
        return _boundary(self.pred)


def _boxes(slices: List[Tuple[slice, slice]]) -> np.ndarray:
    """Bounding boxes as an (N, 4) array of half-open (row0, row1, col0, col1)."""
    return np.array([(s[0].start, s[0].stop, s[1].start, s[1].stop) for s in slices],
                    dtype=np.int64).reshape(-1, 4)


def contingency(gt: np.ndarray, pred: np.ndarray) -> Contingency:
    """The overlap table of two instance label maps, from which every metric is computed.

    Args:
        gt (np.ndarray): Ground-truth label map (0 = background).
        pred (np.ndarray): Predicted (or seed) label map of the same shape.

    Returns:
        Contingency: Object areas and every (gt, pred) pair that overlaps.

    Raises:
        TypeError: A map is not an integer array (e.g. a binary mask).
        ValueError: The maps differ in shape, are not 2-D, or hold negative ids.
    """
    gt, pred = _check_pair(gt, pred)
    g, gt_ids, gt_area = _relabel(gt)
    p, pred_ids, pred_area = _relabel(pred)
    n_g, n_p = len(gt_ids), len(pred_ids)
    # Only pixels inside an object of both maps contribute to an intersection.
    both = (g > 0) & (p > 0)
    codes = (g[both].astype(np.int64) - 1) * max(n_p, 1) + (p[both] - 1)
    if n_g * n_p <= _DENSE_TABLE_MAX:
        table = np.bincount(codes, minlength=n_g * n_p).reshape(n_g, n_p)
        pair_gt, pair_pred = np.nonzero(table)
        pair_inter = table[pair_gt, pair_pred]
    else:  # too many objects for a dense table: count the codes that occur
        uniq, pair_inter = np.unique(codes, return_counts=True)
        pair_gt, pair_pred = np.divmod(uniq, n_p)
    return Contingency(g, p, gt_ids, pred_ids, gt_area, pred_area, pair_gt.astype(np.int64),
                       pair_pred.astype(np.int64), pair_inter.astype(np.int64))


# --------------------------------------------------------------------------- #
# Pairing rules
# --------------------------------------------------------------------------- #
def _best_pairs(rows: np.ndarray, cols: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Index (into the pair arrays) of the highest-score pair of every row.

    Ties go to the lowest column index, i.e. the lowest object id.
    """
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((cols, -score, rows))  # last key is the primary one
    sorted_rows = rows[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_rows[1:] != sorted_rows[:-1]
    return order[first]


def _hungarian_pairs(c: Contingency) -> np.ndarray:
    """One-to-one pairs maximising the total IoU (Hungarian), as pair indices.

    A pair that overlaps nothing else (its gt and its pred each have one
    overlap) is in every optimal matching, so only the remaining, entangled
    pairs go to ``linear_sum_assignment`` - a small matrix instead of
    ``n_gt x n_pred``. Zero-IoU assignments are dropped (HoVer-Net does the same).
    """
    if len(c.pair_gt) == 0:
        return np.zeros(0, dtype=np.int64)
    gt_degree = np.bincount(c.pair_gt, minlength=c.n_gt)
    pred_degree = np.bincount(c.pair_pred, minlength=c.n_pred)
    alone = (gt_degree[c.pair_gt] == 1) & (pred_degree[c.pair_pred] == 1)
    matched = [np.flatnonzero(alone)]
    rest = np.flatnonzero(~alone)
    if len(rest):
        rows, row_of = np.unique(c.pair_gt[rest], return_inverse=True)
        cols, col_of = np.unique(c.pair_pred[rest], return_inverse=True)
        weight = np.zeros((len(rows), len(cols)))
        weight[row_of, col_of] = c.pair_iou[rest]
        pair_index = np.full(weight.shape, -1, dtype=np.int64)
        pair_index[row_of, col_of] = rest
        r, k = linear_sum_assignment(weight, maximize=True)
        chosen = pair_index[r, k]
        matched.append(chosen[chosen >= 0])
    return np.sort(np.concatenate(matched))


# --------------------------------------------------------------------------- #
# Metrics on a contingency table
# --------------------------------------------------------------------------- #
def _pixel_dice(c: Contingency) -> float:
    total = int(c.gt_area.sum() + c.pred_area.sum())
    return 1.0 if total == 0 else 2.0 * int(c.pair_inter.sum()) / total


def _aggregated_jaccard(c: Contingency, pairs: np.ndarray) -> float:
    """Σ inter / (Σ union of the pairs + area of unpaired gt and pred objects).

    A pred used by several pairs contributes its pixels to each pair's union,
    as in Kumar's AJI; ``pairs`` may therefore repeat a pred.
    """
    inter = int(c.pair_inter[pairs].sum())
    union = int(c.pair_union[pairs].sum())
    union += int(c.gt_area.sum() - c.gt_area[c.pair_gt[pairs]].sum())  # pairs: one per gt
    used_pred = np.zeros(c.n_pred, dtype=bool)
    used_pred[c.pair_pred[pairs]] = True
    union += int(c.pred_area[~used_pred].sum())
    return 1.0 if union == 0 else inter / union


def _aji(c: Contingency) -> float:
    return _aggregated_jaccard(c, _best_pairs(c.pair_gt, c.pair_pred, c.pair_iou))


def _aji_plus(c: Contingency) -> float:
    return _aggregated_jaccard(c, _hungarian_pairs(c))


def _panoptic_quality(c: Contingency, iou_thr: float = 0.5) -> Tuple[float, float, float]:
    if not 0.0 <= iou_thr <= 1.0:
        raise ValueError(f'iou_thr must be in [0, 1], got {iou_thr}')
    if c.n_gt == 0 and c.n_pred == 0:
        return 1.0, 1.0, 1.0
    if iou_thr >= 0.5:
        # IoU > 0.5 pairs are unique on both sides, so no assignment is needed.
        matched_iou = c.pair_iou[c.pair_iou > iou_thr]
    else:
        matched_iou = c.pair_iou[_hungarian_pairs(c)]
        matched_iou = matched_iou[matched_iou > iou_thr]
    tp = len(matched_iou)
    fp, fn = c.n_pred - tp, c.n_gt - tp
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = float(matched_iou.sum()) / tp if tp else 0.0
    return dq, sq, dq * sq


def _max_overlap_partners(c: Contingency) -> Tuple[np.ndarray, np.ndarray]:
    """Pair indices of S*(G_i) for every overlapping G_i and G*(S_j) for every S_j.

    The partner is the object of the other map with the most intersecting
    pixels; ties go to the lowest id.
    """
    gt_side = _best_pairs(c.pair_gt, c.pair_pred, c.pair_inter)
    pred_side = _best_pairs(c.pair_pred, c.pair_gt, c.pair_inter)
    return gt_side, pred_side


def _object_dice(c: Contingency) -> float:
    if c.n_gt == 0 or c.n_pred == 0:
        return 1.0 if c.n_gt == c.n_pred else 0.0
    gt_side, pred_side = _max_overlap_partners(c)
    dice = 2.0 * c.pair_inter / (c.gt_area[c.pair_gt] + c.pred_area[c.pair_pred])
    # γ_i = |G_i| / Σ|G|; objects without overlap have Dice 0 and drop out.
    gt_term = float((c.gt_area[c.pair_gt[gt_side]] * dice[gt_side]).sum()) / c.gt_area.sum()
    pred_term = float(
        (c.pred_area[c.pair_pred[pred_side]] * dice[pred_side]).sum()) / c.pred_area.sum()
    return float(0.5 * (gt_term + pred_term))


def _boundary(labels: np.ndarray) -> np.ndarray:
    """Object pixels with a 4-neighbour of another label (background included).

    For two disjoint pixel sets, the closest pair of pixels lies on both sets'
    boundaries (a pixel of B strictly inside B always has a neighbour of B that
    is closer to any outside point), so searching boundaries is exact.
    """
    edge = np.zeros(labels.shape, dtype=bool)
    diff = labels[1:, :] != labels[:-1, :]
    edge[1:, :] |= diff
    edge[:-1, :] |= diff
    diff = labels[:, 1:] != labels[:, :-1]
    edge[:, 1:] |= diff
    edge[:, :-1] |= diff
    return edge & (labels > 0)


def _sq_dist_matrix(src: Tuple[np.ndarray, np.ndarray], dst: Tuple[np.ndarray, np.ndarray],
                    dtype: type = np.int32) -> np.ndarray:
    """Squared distances between two small point sets given as (rows, cols).

    In-place integer arithmetic: 3-10x faster than int64 temporaries or cdist
    on the few-hundred-point sets of one nucleus. ``dtype`` is int32 unless the
    image is so large that a squared distance could overflow it.
    """
    dy = src[0].astype(dtype)[:, None] - dst[0].astype(dtype)
    dx = src[1].astype(dtype)[:, None] - dst[1].astype(dtype)
    dy *= dy
    dx *= dx
    dy += dx
    return dy


def _kdtree_nearest_sq(src: Tuple[np.ndarray, np.ndarray],
                       dst: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Exact integer squared distance of every source point to its nearest target."""
    src_pts, dst_pts = np.stack(src, axis=1), np.stack(dst, axis=1)
    nearest = cKDTree(dst_pts).query(src_pts)[1]
    return ((src_pts - dst_pts[nearest])**2).sum(axis=1)


def _min_sq(src: Tuple[np.ndarray, np.ndarray], dst: Tuple[np.ndarray, np.ndarray],
            dtype: type) -> int:
    """Smallest squared distance between two point sets."""
    if len(src[0]) * len(dst[0]) <= _DENSE_DISTANCE_MAX:
        return int(_sq_dist_matrix(src, dst, dtype).min())
    return int(_kdtree_nearest_sq(src, dst).min())


def _directed_sq(src: Tuple[np.ndarray, np.ndarray], dst: Tuple[np.ndarray, np.ndarray],
                 dtype: type) -> int:
    """max over source points of the squared distance to the nearest target point."""
    if len(src[0]) * len(dst[0]) <= _DENSE_DISTANCE_MAX:
        return int(_sq_dist_matrix(src, dst, dtype).min(axis=1).max())
    return int(_kdtree_nearest_sq(src, dst).max())


def _edge_points(labels: np.ndarray, edge: np.ndarray, slices: List[Tuple[slice, slice]],
                 obj: int) -> Tuple[np.ndarray, np.ndarray]:
    """Image coordinates of the boundary pixels of 0-based object ``obj``."""
    sl = slices[obj]
    rows, cols = np.nonzero(edge[sl] & (labels[sl] == obj + 1))
    return rows + sl[0].start, cols + sl[1].start


def _nearest_objects(c: Contingency, from_gt: bool, wanted: np.ndarray) -> np.ndarray:
    """For each 0-based object ``wanted[k]`` of one map, the nearest object of the other.

    Distance = minimum Euclidean distance between the two pixel sets; ties go
    to the lowest id. The closest pair of two disjoint pixel sets lies on both
    boundaries (see :func:`_boundary`), so only boundary pixels are compared.
    Candidates are visited in increasing order of the gap between bounding
    boxes, a lower bound of the distance; the search stops once that bound
    exceeds the best distance found, so usually only a few neighbours are
    measured.
    """
    if from_gt:
        src, src_edge, src_slices, src_boxes = c.gt, c.gt_edge, c.gt_slices, c.gt_boxes
        dst, dst_edge, dst_slices, dst_boxes = c.pred, c.pred_edge, c.pred_slices, c.pred_boxes
    else:
        src, src_edge, src_slices, src_boxes = c.pred, c.pred_edge, c.pred_slices, c.pred_boxes
        dst, dst_edge, dst_slices, dst_boxes = c.gt, c.gt_edge, c.gt_slices, c.gt_boxes
    best = np.empty(len(wanted), dtype=np.int64)
    for k, obj in enumerate(wanted):
        points = _edge_points(src, src_edge, src_slices, obj)
        r0, r1, c0, c1 = src_boxes[obj]  # half-open boxes
        gap_r = np.maximum(0, np.maximum(dst_boxes[:, 0] - r1, r0 - dst_boxes[:, 1]) + 1)
        gap_c = np.maximum(0, np.maximum(dst_boxes[:, 2] - c1, c0 - dst_boxes[:, 3]) + 1)
        lower = gap_r * gap_r + gap_c * gap_c
        # The object with the closest box gives a first (upper) bound; only
        # objects whose box gap does not exceed it can be nearer or tie.
        best_obj = int(np.argmin(lower))
        best_sq = _min_sq(points, _edge_points(dst, dst_edge, dst_slices, best_obj), c.coord_dtype)
        candidates = np.flatnonzero(lower <= best_sq)
        for other in candidates[np.argsort(lower[candidates], kind='stable')]:
            if lower[other] > best_sq:
                break
            if other == best_obj:
                continue
            sq = _min_sq(points, _edge_points(dst, dst_edge, dst_slices, other), c.coord_dtype)
            if sq < best_sq or (sq == best_sq and other < best_obj):
                best_sq, best_obj = sq, int(other)
        best[k] = best_obj
    return best


def _pair_hausdorff(c: Contingency, g: int, p: int) -> float:
    """Symmetric Hausdorff distance between gt object ``g`` and pred object ``p``.

    Exact, from the definition h(A, B) = max over a in A of d(a, B):
    pixels of A inside B contribute 0, and for a pixel outside B the nearest
    pixel of B is a boundary pixel of B (see :func:`_boundary`), so only
    (A minus B) x (boundary of B) distances are needed. All of A minus B is
    searched, not just its boundary: the maximum can sit inside A (e.g. when
    A covers the hole of a ring-shaped B). Squared distances are integers, so
    the result is exactly the square root of an integer.
    """
    sg, sp = c.gt_slices[g], c.pred_slices[p]
    win = (slice(min(sg[0].start, sp[0].start), max(sg[0].stop, sp[0].stop)),
           slice(min(sg[1].start, sp[1].start), max(sg[1].stop, sp[1].stop)))
    a = c.gt[win] == g + 1
    b = c.pred[win] == p + 1
    dist_sq = 0
    a_only = np.nonzero(a & ~b)
    if len(a_only[0]):
        dist_sq = _directed_sq(a_only, np.nonzero(b & c.pred_edge[win]), c.coord_dtype)
    b_only = np.nonzero(b & ~a)
    if len(b_only[0]):
        dist_sq = max(dist_sq, _directed_sq(b_only, np.nonzero(a & c.gt_edge[win]), c.coord_dtype))
    return math.sqrt(dist_sq)


def _object_hausdorff(c: Contingency) -> float:
    if c.n_gt == 0 or c.n_pred == 0:
        return math.nan
    gt_side, pred_side = _max_overlap_partners(c)
    gt_partner = np.full(c.n_gt, -1, dtype=np.int64)
    gt_partner[c.pair_gt[gt_side]] = c.pair_pred[gt_side]
    pred_partner = np.full(c.n_pred, -1, dtype=np.int64)
    pred_partner[c.pair_pred[pred_side]] = c.pair_gt[pred_side]
    # Objects that overlap nothing are paired with the nearest object instead.
    lonely = np.flatnonzero(gt_partner < 0)
    if len(lonely):
        gt_partner[lonely] = _nearest_objects(c, True, lonely)
    lonely = np.flatnonzero(pred_partner < 0)
    if len(lonely):
        pred_partner[lonely] = _nearest_objects(c, False, lonely)
    # Mutual partners are the common case: compute each distinct pair once.
    pairs = np.concatenate([
        np.stack([np.arange(c.n_gt), gt_partner], axis=1),
        np.stack([pred_partner, np.arange(c.n_pred)], axis=1)
    ])
    uniq, which = np.unique(pairs, axis=0, return_inverse=True)
    dist = np.array([_pair_hausdorff(c, int(g), int(p)) for g, p in uniq])[which.reshape(-1)]
    gt_term = float((c.gt_area * dist[:c.n_gt]).sum()) / c.gt_area.sum()
    pred_term = float((c.pred_area * dist[c.n_gt:]).sum()) / c.pred_area.sum()
    return float(0.5 * (gt_term + pred_term))


# --------------------------------------------------------------------------- #
# Public metrics
# --------------------------------------------------------------------------- #
def pixel_dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Binary foreground Dice ``2|G∩P| / (|G|+|P|)`` (HoVer-Net ``get_dice_1``).

    Args:
        gt: Ground-truth instance label map (2-D integer, 0 = background).
        pred: Predicted instance label map of the same shape.

    Returns:
        The Dice coefficient; 1.0 when neither map has foreground.
    """
    return _pixel_dice(contingency(gt, pred))


def aji(gt: np.ndarray, pred: np.ndarray) -> float:
    """Aggregated Jaccard Index of Kumar et al. (TMI 2017).

    Each GT nucleus is paired with the prediction of highest IoU (a prediction
    may serve several GT nuclei and then counts in each union; ties go to the
    lowest prediction id). A GT nucleus without an overlapping prediction adds
    its area to the union; predictions never chosen add their area to the
    union. Equals HoVer-Net ``get_fast_aji`` after ``remap_label``, without its
    failure modes (non-contiguous ids, a map without background pixel).

    Args:
        gt: Ground-truth instance label map.
        pred: Predicted instance label map.

    Returns:
        AJI in [0, 1]; 1.0 when both maps are empty, 0.0 when exactly one is.
    """
    return _aji(contingency(gt, pred))


def aji_plus(gt: np.ndarray, pred: np.ndarray) -> float:
    """AJI+ (Graham et al. 2019): AJI with one-to-one Hungarian pairs on IoU.

    Pairs maximise the total IoU (``scipy.optimize.linear_sum_assignment``);
    pairs without overlap are dropped, and every unpaired object's area goes to
    the union. When several assignments have the same total IoU, the one
    scipy returns is used (HoVer-Net has the same ambiguity).

    Args:
        gt: Ground-truth instance label map.
        pred: Predicted instance label map.

    Returns:
        AJI+ in [0, 1]; 1.0 when both maps are empty, 0.0 when exactly one is.
    """
    return _aji_plus(contingency(gt, pred))


def panoptic_quality(gt: np.ndarray,
                     pred: np.ndarray,
                     iou_thr: float = 0.5) -> Tuple[float, float, float]:
    """Detection, segmentation and panoptic quality (Kirillov et al. 2019).

    A GT and a predicted object match when their IoU is strictly greater than
    ``iou_thr`` (HoVer-Net ``get_fast_pq``). For ``iou_thr >= 0.5`` such pairs
    are unique; below 0.5 pairs come from a Hungarian assignment on IoU first.
    ``DQ = TP / (TP + FP/2 + FN/2)``, ``SQ = mean IoU of the matches``,
    ``PQ = DQ * SQ``. Unlike HoVer-Net, SQ has no ``1e-6`` in its denominator.

    Args:
        gt: Ground-truth instance label map.
        pred: Predicted instance label map.
        iou_thr: Matching threshold in [0, 1].

    Returns:
        ``(dq, sq, pq)``. ``(1, 1, 1)`` when both maps are empty; SQ is 0.0
        when nothing matches.
    """
    return _panoptic_quality(contingency(gt, pred), iou_thr)


def object_dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Object-level Dice of Sirinukunwattana et al. (GlaS, 2015/2017).

    ``½[Σ_i γ_i Dice(G_i, S*(G_i)) + Σ_j σ_j Dice(G*(S_j), S_j)]`` with
    ``γ_i = |G_i|/Σ|G|``, ``σ_j = |S_j|/Σ|S|``; ``S*(G_i)`` is the prediction with
    the most pixels in common with ``G_i`` (ties: lowest id) and the Dice of an
    object that overlaps nothing is 0.

    Args:
        gt: Ground-truth instance label map.
        pred: Predicted instance label map.

    Returns:
        Object Dice in [0, 1]; 1.0 when both maps are empty, 0.0 when exactly one is.
    """
    return _object_dice(contingency(gt, pred))


def object_hausdorff(gt: np.ndarray, pred: np.ndarray) -> float:
    """Object-level Hausdorff distance of Sirinukunwattana et al., in pixels.

    Same weighting as :func:`object_dice`, with the symmetric Hausdorff
    distance between the two objects' pixel sets (Euclidean). The partner of an
    object is the most-overlapping object of the other map; an object that
    overlaps nothing is paired with the nearest object of the other map
    (minimum distance between pixel sets; ties: lowest id).

    Args:
        gt: Ground-truth instance label map.
        pred: Predicted instance label map.

    Returns:
        The weighted distance; NaN when either map has no object.
    """
    return _object_hausdorff(contingency(gt, pred))


def nuclei_metrics(gt: np.ndarray, pred: np.ndarray) -> Dict[str, float]:
    """All instance metrics of one image from a single contingency table.

    Args:
        gt: Ground-truth instance label map (2-D integer, 0 = background).
        pred: Predicted instance label map of the same shape.

    Returns:
        ``{'pixel_dice', 'aji', 'aji_plus', 'dq', 'sq', 'pq', 'object_dice',
        'object_hausdorff'}`` as Python floats (see the individual functions).

    Raises:
        ValueError: Shapes differ, a map is not 2-D or has negative ids.
        TypeError: A map is boolean or floating point (not an instance map).
    """
    c = contingency(gt, pred)
    dq, sq, pq = _panoptic_quality(c)
    return {
        'pixel_dice': _pixel_dice(c),
        'aji': _aji(c),
        'aji_plus': _aji_plus(c),
        'dq': dq,
        'sq': sq,
        'pq': pq,
        'object_dice': _object_dice(c),
        'object_hausdorff': _object_hausdorff(c),
    }


# --------------------------------------------------------------------------- #
# The Cyclic Learning authors' evaluation (test_4metric.py), for comparison only
# --------------------------------------------------------------------------- #
_LEGACY_MIN_COMPONENT = 100  # calculate_f1(component_size_threshold=100)
_LEGACY_IOU = 0.5  # calculate_f1(iou_threshold=0.5), matched with a strict ">"
_LEGACY_RANK = 0.6  # cv2.createHausdorffDistanceExtractor() default rankProp


def _opencv_rank_hausdorff(points_a: np.ndarray,
                           points_b: np.ndarray,
                           rank_prop: float = _LEGACY_RANK) -> float:
    """OpenCV ``HausdorffDistanceExtractor.computeDistance`` (L2), in numpy.

    For each direction: the float32 distance of every point to its nearest
    point of the other set, then the element at ``K = int(rank_prop*(N-1))`` of
    that list *in point order*: OpenCV "sorts" an N x 1 matrix with
    ``SORT_EVERY_ROW``, which leaves it unchanged. Result: the larger of the
    two directions. This is neither the Hausdorff distance nor a percentile.
    """
    points_a = np.asarray(points_a, dtype=np.float64).reshape(-1, 2)
    points_b = np.asarray(points_b, dtype=np.float64).reshape(-1, 2)

    def directed(src: np.ndarray, dst: np.ndarray) -> np.float32:
        # The nearest distance is exact in float64; OpenCV stores each distance
        # as float32, and rounding is monotonic, so min-then-round matches.
        nearest = cKDTree(dst).query(src)[0].astype(np.float32)
        return nearest[int(rank_prop * (len(src) - 1))]

    return float(max(directed(points_a, points_b), directed(points_b, points_a)))


def _legacy_clean(mask: np.ndarray) -> np.ndarray:
    """``get_buildings``: drop 4-connected components below 100 px, relabel 8-connected."""
    comp, _ = ndimage.label(mask)  # scipy default structure = 4-connectivity
    sizes = np.bincount(comp.reshape(-1))
    keep = sizes >= _LEGACY_MIN_COMPONENT
    keep[0] = False
    cleaned = keep[comp]
    # skimage.measure.label defaults to full (8-) connectivity in 2-D.
    return ndimage.label(cleaned, structure=np.ones((3, 3), dtype=bool))[0]


def _contour_points(mask: np.ndarray) -> Optional[np.ndarray]:
    """All ``cv2.findContours(RETR_LIST, CHAIN_APPROX_SIMPLE)`` points, concatenated."""
    import cv2  # only the legacy HD needs OpenCV
    contours = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
    if len(contours) == 0:
        return None
    return np.concatenate([c.reshape(-1, 2) for c in contours], axis=0)


def legacy_paper_metrics(gt: np.ndarray, pred: np.ndarray) -> Dict[str, float]:
    """What the Cyclic Learning authors' ``test_4metric.py`` computes. NOT true metrics.

    Kept only to compare with the paper's tables. Both maps are reduced to
    binary foreground masks first (instances are lost), then:

    * ``dice_i``, ``dice_u``: ``2|P∩G|`` and ``|P|+|G|``, so that a caller can
      report the dataset aggregate ``Σdice_i/Σdice_u`` (their "OLD_DICE", the
      number their evaluation returns); ``dice = dice_i/dice_u`` (their per-image
      "DICE", NaN when both masks are empty).
    * ``aji``: their "AJI" - HoVer-Net ``get_fast_aji`` called on boolean masks,
      which is the foreground IoU ``|P∩G|/|P∪G|``. 0.0 when one mask is empty,
      NaN when both are (their code crashes or returns 0/0 there).
    * ``obj_f1``, ``obj_tp``, ``obj_fp``, ``obj_fn``: ``calculate_f1``. Components
      below 100 px (4-connected) are deleted, the rest relabelled 8-connected;
      each prediction component is greedily matched, in label order, to the
      first unmatched GT component with IoU > 0.5 (strict). Such pairs are
      unique, so the greedy result equals counting pairs with IoU > 0.5.
      ``obj_f1 = 2TP/(2TP+FP+FN)`` (equal to their 2PR/(P+R)); 0.0 when TP = 0
      (their code then returns a bare 0 and its caller crashes), NaN when no
      component is left on either side. Their dataset "objF1" is the same
      formula on the summed counts.
    * ``hd``: ``cv2.createHausdorffDistanceExtractor()`` (L2, rankProp 0.6) on
      the concatenated ``findContours`` vertices of the *cleaned* masks (their
      ``calculate_f1`` edits the masks in place before HD is computed); see
      :func:`_opencv_rank_hausdorff`. NaN when a cleaned mask has no contour
      (their code crashes; a variant returns 10).

    No constant is added to any number (one of their scripts adds offsets to
    the printed values; that is not reproduced).

    Args:
        gt: Ground-truth label map (any non-zero pixel is foreground).
        pred: Predicted label map (any non-zero pixel is foreground).

    Returns:
        ``{'dice_i', 'dice_u', 'dice', 'aji', 'obj_f1', 'obj_tp', 'obj_fp',
        'obj_fn', 'hd'}``.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f'gt and pred must have the same shape, got gt {gt.shape} '
                         f'and pred {pred.shape}')
    if gt.ndim != 2:
        raise ValueError(f'label maps must be 2-D, got shape {gt.shape}')
    g, p = gt != 0, pred != 0
    inter = int(np.count_nonzero(g & p))
    area_sum = int(np.count_nonzero(g)) + int(np.count_nonzero(p))
    union = area_sum - inter
    # Object F1 on the cleaned component maps, via the shared contingency table.
    g_comp, p_comp = _legacy_clean(g), _legacy_clean(p)
    c = contingency(g_comp, p_comp)
    tp = int(np.count_nonzero(c.pair_iou > _LEGACY_IOU))
    fp, fn = c.n_pred - tp, c.n_gt - tp
    obj_f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else math.nan
    a_pts, b_pts = _contour_points(p_comp > 0), _contour_points(g_comp > 0)
    hd = math.nan if a_pts is None or b_pts is None else _opencv_rank_hausdorff(a_pts, b_pts)
    return {
        'dice_i': float(2 * inter),
        'dice_u': float(area_sum),
        'dice': 2 * inter / area_sum if area_sum else math.nan,
        'aji': inter / union if union else math.nan,
        'obj_f1': obj_f1,
        'obj_tp': float(tp),
        'obj_fp': float(fp),
        'obj_fn': float(fn),
        'hd': hd,
    }
