"""Tests of :mod:`mmcyclic.evaluation.functional` (nuclei instance metrics).

Two independent references live in this file:

* ``reference_metrics``: a literal, slow implementation written straight from
  the metric definitions (one full-image boolean mask per object, loops over
  object pairs, exact fractions for IoU ties, brute-force Hausdorff with
  ``scipy.spatial.distance.cdist`` on pixel coordinates).
* ``hv_*``: a port of HoVer-Net's ``remap_label``/``get_fast_aji``/
  ``get_fast_aji_plus``/``get_fast_pq`` written from their description in the
  project's reference notes, bugs included (instance 1 is lost when a map has
  no background pixel; ids must be contiguous; argmax over ``inter/(union+1e-6)``
  prefers the larger union on exact IoU ties). It is only compared where those
  bugs cannot bite.

The fast implementation must agree with both on synthetic perturbations
(shift, erosion, dilation, drops, splits, merges, scrambled and huge ids,
false positives) and on real MoNuSeg label maps.
"""
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from mmcyclic.evaluation import aji, aji_plus
from mmcyclic.evaluation import functional as F
from mmcyclic.evaluation import (legacy_paper_metrics, nuclei_metrics, object_dice,
                                 object_hausdorff, panoptic_quality, pixel_dice)

DATA_ROOT = Path(__file__).resolve().parents[2].parent / 'shared' / 'data'
MONUSEG_MASKS = DATA_ROOT / 'monuseg' / 'train' / 'instance_masks'
KEYS = ('pixel_dice', 'aji', 'aji_plus', 'dq', 'sq', 'pq', 'object_dice', 'object_hausdorff')


# --------------------------------------------------------------------------- #
# Reference 1: straight from the definitions
# --------------------------------------------------------------------------- #
class _Objects:
    """Full-image masks of every object of both maps and their pair table."""

    def __init__(self, gt, pred, overlapping_only=False):
        self.gt_ids = [i for i in np.unique(gt).tolist() if i != 0]
        self.pred_ids = [j for j in np.unique(pred).tolist() if j != 0]
        self.gt_masks = [gt == i for i in self.gt_ids]
        self.pred_masks = [pred == j for j in self.pred_ids]
        self.gt_area = [int(m.sum()) for m in self.gt_masks]
        self.pred_area = [int(m.sum()) for m in self.pred_masks]
        self.inter = np.zeros((len(self.gt_ids), len(self.pred_ids)), dtype=np.int64)
        for i, gm in enumerate(self.gt_masks):
            if overlapping_only:  # the pairs that can overlap (HoVer-Net style), for big maps
                overlapping = [j for j in np.unique(pred[gm]).tolist() if j != 0]
                candidates = [self.pred_ids.index(j) for j in overlapping]
            else:  # every pair
                candidates = range(len(self.pred_ids))
            for j in candidates:
                self.inter[i, j] = np.count_nonzero(gm & self.pred_masks[j])

    def union(self, i, j):
        return self.gt_area[i] + self.pred_area[j] - int(self.inter[i, j])

    def iou(self, i, j):
        if self.inter[i, j] == 0:
            return _ZERO
        return Fraction(int(self.inter[i, j]), self.union(i, j))


_ZERO = Fraction(0)


def _best(scores):
    """Index of the maximum, first (lowest id) on ties; None when all are 0."""
    best, best_score = None, 0
    for k, s in enumerate(scores):
        if s > best_score:
            best, best_score = k, s
    return best


def _hausdorff_bruteforce(mask_a, mask_b):
    d = cdist(np.argwhere(mask_a), np.argwhere(mask_b))
    return max(d.min(axis=1).max(), d.min(axis=0).max())


def _nearest_bruteforce(mask, other_map, other_ids):
    """Index into ``other_ids`` of the object of ``other_map`` nearest to ``mask``.

    Distance = min over the other object's pixels of their distance to ``mask``
    (a full-image distance transform); the lowest id wins ties.
    """
    to_mask = ndimage.distance_transform_edt(~mask)  # distance of every pixel to the object
    dists = ndimage.minimum(to_mask, labels=other_map, index=other_ids)
    return int(np.argmin(dists))  # argmin returns the first minimum


def reference_metrics(gt, pred, overlapping_only=False):
    """Every metric of ``nuclei_metrics`` from its definition."""
    o = _Objects(gt, pred, overlapping_only)
    n_g, n_p = len(o.gt_ids), len(o.pred_ids)
    out = {}
    total = sum(o.gt_area) + sum(o.pred_area)
    out['pixel_dice'] = 1.0 if total == 0 else 2 * np.count_nonzero((gt > 0) & (pred > 0)) / total

    # Kumar AJI: best IoU per GT, predictions may be reused.
    inter_sum, union_sum, used = 0, 0, set()
    for i in range(n_g):
        j = _best([o.iou(i, j) for j in range(n_p)])
        if j is None:
            union_sum += o.gt_area[i]
        else:
            inter_sum += int(o.inter[i, j])
            union_sum += o.union(i, j)
            used.add(j)
    union_sum += sum(o.pred_area[j] for j in range(n_p) if j not in used)
    out['aji'] = 1.0 if union_sum == 0 else inter_sum / union_sum

    # AJI+: one-to-one pairs of maximal total IoU.
    iou = np.array([[float(o.iou(i, j)) for j in range(n_p)] for i in range(n_g)]).reshape(n_g, n_p)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    pairs = [(i, j) for i, j in zip(rows, cols) if o.inter[i, j] > 0]
    inter_sum = sum(int(o.inter[i, j]) for i, j in pairs)
    union_sum = sum(o.union(i, j) for i, j in pairs)
    union_sum += sum(o.gt_area[i] for i in range(n_g) if i not in {p[0] for p in pairs})
    union_sum += sum(o.pred_area[j] for j in range(n_p) if j not in {p[1] for p in pairs})
    out['aji_plus'] = 1.0 if union_sum == 0 else inter_sum / union_sum

    # PQ at IoU > 0.5.
    matched = [o.iou(i, j) for i in range(n_g) for j in range(n_p) if o.iou(i, j) > Fraction(1, 2)]
    tp = len(matched)
    fp, fn = n_p - tp, n_g - tp
    if n_g == n_p == 0:
        out['dq'] = out['sq'] = out['pq'] = 1.0
    else:
        out['dq'] = tp / (tp + fp / 2 + fn / 2)
        out['sq'] = float(sum(matched) / tp) if tp else 0.0
        out['pq'] = out['dq'] * out['sq']

    # Object Dice and object Hausdorff (Sirinukunwattana et al.).
    if n_g == 0 or n_p == 0:
        out['object_dice'] = 1.0 if n_g == n_p else 0.0
        out['object_hausdorff'] = math.nan
        return out
    dice_g, haus_g = 0.0, 0.0
    for i in range(n_g):
        j = _best(o.inter[i].tolist())
        if j is not None:
            dice_g += o.gt_area[i] * 2 * o.inter[i, j] / (o.gt_area[i] + o.pred_area[j])
        else:
            j = _nearest_bruteforce(o.gt_masks[i], pred, o.pred_ids)
        haus_g += o.gt_area[i] * _hausdorff_bruteforce(o.gt_masks[i], o.pred_masks[j])
    dice_p, haus_p = 0.0, 0.0
    for j in range(n_p):
        i = _best(o.inter[:, j].tolist())
        if i is not None:
            dice_p += o.pred_area[j] * 2 * o.inter[i, j] / (o.gt_area[i] + o.pred_area[j])
        else:
            i = _nearest_bruteforce(o.pred_masks[j], gt, o.gt_ids)
        haus_p += o.pred_area[j] * _hausdorff_bruteforce(o.gt_masks[i], o.pred_masks[j])
    out['object_dice'] = 0.5 * (dice_g / sum(o.gt_area) + dice_p / sum(o.pred_area))
    out['object_hausdorff'] = 0.5 * (haus_g / sum(o.gt_area) + haus_p / sum(o.pred_area))
    return out


# --------------------------------------------------------------------------- #
# Reference 2: HoVer-Net's stats_utils, ported with its bugs
# --------------------------------------------------------------------------- #
def hv_remap_label(lab):
    ids = [i for i in np.unique(lab).tolist() if i != 0]
    out = np.zeros(lab.shape, np.int32)
    for new_id, old_id in enumerate(ids, 1):
        out[lab == old_id] = new_id
    return out


def _hv_pairwise(true, pred):
    true_ids, pred_ids = list(np.unique(true)), list(np.unique(pred))
    # The first unique value is assumed to be background, and masks are looked
    # up by id: both bugs are inherited on purpose.
    true_masks = [None] + [(true == t).astype(np.uint8) for t in true_ids[1:]]
    pred_masks = [None] + [(pred == p).astype(np.uint8) for p in pred_ids[1:]]
    inter = np.zeros((len(true_ids) - 1, len(pred_ids) - 1))
    union = np.zeros_like(inter)
    for t in true_ids[1:]:
        t_mask = true_masks[t]
        for p in np.unique(pred[t_mask > 0]):
            if p == 0:
                continue
            p_mask = pred_masks[p]
            total = (t_mask + p_mask).sum()
            both = (t_mask * p_mask).sum()
            inter[t - 1, p - 1] = both
            union[t - 1, p - 1] = total - both
    return true_ids, pred_ids, true_masks, pred_masks, inter, union


def _hv_unpaired_union(true_ids, pred_ids, true_masks, pred_masks, paired_t, paired_p):
    extra = 0
    for t in true_ids[1:]:
        if t not in paired_t:
            extra += true_masks[t].sum()
    for p in pred_ids[1:]:
        if p not in paired_p:
            extra += pred_masks[p].sum()
    return extra


def hv_get_fast_aji(true, pred):
    true_ids, pred_ids, tm, pm, inter, union = _hv_pairwise(true, pred)
    iou = inter / (union + 1.0e-6)
    paired_pred = np.argmax(iou, axis=1)
    best_iou = np.max(iou, axis=1)
    paired_true = np.nonzero(best_iou > 0.0)[0]
    paired_pred = paired_pred[paired_true]
    overall_inter = inter[paired_true, paired_pred].sum()
    overall_union = union[paired_true, paired_pred].sum()
    overall_union += _hv_unpaired_union(true_ids, pred_ids, tm, pm, list(paired_true + 1),
                                        list(paired_pred + 1))
    return overall_inter / overall_union


def hv_get_fast_aji_plus(true, pred):
    true_ids, pred_ids, tm, pm, inter, union = _hv_pairwise(true, pred)
    iou = inter / (union + 1.0e-6)
    paired_true, paired_pred = linear_sum_assignment(-iou)
    keep = iou[paired_true, paired_pred] > 0.0
    paired_true, paired_pred = paired_true[keep], paired_pred[keep]
    overall_inter = inter[paired_true, paired_pred].sum()
    overall_union = union[paired_true, paired_pred].sum()
    overall_union += _hv_unpaired_union(true_ids, pred_ids, tm, pm, list(paired_true + 1),
                                        list(paired_pred + 1))
    return overall_inter / overall_union


def hv_get_fast_pq(true, pred, match_iou=0.5):
    true_ids, pred_ids, _, _, inter, union = _hv_pairwise(true, pred)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    if match_iou >= 0.5:
        iou[iou <= match_iou] = 0.0
        paired_true, paired_pred = np.nonzero(iou)
        paired_iou = iou[paired_true, paired_pred]
    else:
        paired_true, paired_pred = linear_sum_assignment(-iou)
        paired_iou = iou[paired_true, paired_pred]
        keep = paired_iou > match_iou
        paired_true, paired_pred = paired_true[keep], paired_pred[keep]
        paired_iou = paired_iou[keep]
    tp = len(paired_true)
    fp = len(pred_ids) - 1 - tp
    fn = len(true_ids) - 1 - tp
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = paired_iou.sum() / (tp + 1.0e-6)
    return dq, sq, dq * sq


def hv_metrics(gt, pred):
    gt, pred = hv_remap_label(gt), hv_remap_label(pred)
    dq, sq, pq = hv_get_fast_pq(gt, pred)
    return dict(aji=hv_get_fast_aji(gt, pred), aji_plus=hv_get_fast_aji_plus(gt, pred),
                dq=dq, sq=sq, pq=pq)


# --------------------------------------------------------------------------- #
# Synthetic maps and perturbations
# --------------------------------------------------------------------------- #
def random_instances(rng, shape=(80, 80), n=22):
    """Random ellipses; later ones cover earlier ones, so objects touch and some
    become non-convex, disconnected or vanish (ids are then non-contiguous)."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    lab = np.zeros(shape, np.int64)
    for k in range(1, n + 1):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        ry, rx = rng.uniform(2.5, 8, size=2)
        t = rng.uniform(0, np.pi)
        u = ((yy - cy) * np.cos(t) + (xx - cx) * np.sin(t)) / ry
        v = (-(yy - cy) * np.sin(t) + (xx - cx) * np.cos(t)) / rx
        lab[u * u + v * v <= 1] = k
    return lab


def _shift(lab, dy, dx):
    out = np.zeros_like(lab)
    h, w = lab.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        lab[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def _erode(lab):
    same = ndimage.minimum_filter(lab, 3) == ndimage.maximum_filter(lab, 3)
    return np.where(same, lab, 0)


def _dilate(lab, size=5):
    grown = ndimage.grey_dilation(lab, size=(size, size))
    return np.where(lab == 0, grown, lab)


def _ids(lab):
    return [i for i in np.unique(lab).tolist() if i != 0]


def _dilate_over(lab, size=3):
    """Grow every object, also over its neighbours (creates many-to-many overlaps)."""
    return ndimage.grey_dilation(lab, size=(size, size))


def _drop(rng, lab, frac=0.3):
    ids = _ids(lab)
    gone = rng.choice(ids, size=int(frac * len(ids)), replace=False)
    return np.where(np.isin(lab, gone), 0, lab)


def _split(rng, lab, frac=0.5):
    out = lab.copy()
    next_id = lab.max() + 1
    for i in rng.choice(_ids(lab), size=max(1, int(frac * len(_ids(lab)))), replace=False):
        rows = np.nonzero(lab == i)[0]
        out[(lab == i) & (np.arange(lab.shape[0])[:, None] > rows.mean())] = next_id
        next_id += 1
    return out


def _merge(lab):
    ids = _ids(lab)
    out = lab.copy()
    for a, b in zip(ids[0::4], ids[1::4]):  # merge every 4th object into its successor
        out[lab == b] = a
    return out


def _scramble(rng, lab):
    ids = np.array(_ids(lab))
    new = rng.permutation(len(ids)) * 7 + 3
    lut = np.zeros(lab.max() + 1, np.int64)
    lut[ids] = new
    return lut[lab]


def _huge(lab):
    ids = _ids(lab)
    lut = np.zeros(lab.max() + 1, np.int64)
    lut[ids] = 2**31 - 1 - np.arange(len(ids)) * 1000003
    return lut[lab]


def _false_positives(rng, lab, n=6):
    out = lab.copy()
    yy, xx = np.mgrid[:lab.shape[0], :lab.shape[1]]
    for k in range(n):
        cy, cx = rng.uniform(0, lab.shape[0]), rng.uniform(0, lab.shape[1])
        disk = ((yy - cy)**2 + (xx - cx)**2 <= rng.uniform(2, 5)**2) & (out == 0)
        out[disk] = lab.max() + 1 + k
    return out


def _perturbations():
    """(name, gt, pred) triples; the seeds make them reproducible."""
    cases = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        gt = random_instances(rng, shape=(96, 96), n=30)
        cases += [
            (f'identical-{seed}', gt, gt.copy()),
            (f'shifted-{seed}', gt, _shift(gt, 2, -3)),
            (f'eroded-{seed}', gt, _erode(gt)),
            (f'dilated-{seed}', gt, _dilate(gt)),
            (f'dilated-over-neighbours-{seed}', gt, _dilate_over(gt)),
            (f'dropped-{seed}', gt, _drop(rng, gt)),
            (f'split-{seed}', gt, _split(rng, gt)),
            (f'merged-{seed}', gt, _merge(gt)),
            (f'scrambled-{seed}', _scramble(rng, gt), _scramble(rng, _shift(gt, 1, 1))),
            (f'huge-ids-{seed}', _huge(gt), _huge(_dilate(gt, 3))),
            (f'false-positives-{seed}', gt, _false_positives(rng, _shift(gt, -1, 2))),
            (f'mixed-{seed}', gt,
             _false_positives(rng, _split(rng, _merge(_drop(rng, _dilate(_shift(gt, 1, 0), 3)))))),
        ]
    return cases


CASES = _perturbations()


def _assert_close(fast, ref, keys, name):
    for key in keys:
        tol = 1e-4 if key == 'object_hausdorff' else 1e-6
        if math.isnan(ref[key]):
            assert math.isnan(fast[key]), (name, key, fast[key])
        else:
            assert fast[key] == pytest.approx(ref[key], abs=tol), (name, key, fast[key], ref[key])


# --------------------------------------------------------------------------- #
# Agreement with both references
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('name,gt,pred', CASES, ids=[c[0] for c in CASES])
def test_matches_definitions(name, gt, pred):
    fast = nuclei_metrics(gt, pred)
    assert list(fast) == list(KEYS)
    assert all(type(v) is float for v in fast.values())
    _assert_close(fast, reference_metrics(gt, pred), KEYS, name)


@pytest.mark.parametrize('name,gt,pred', CASES, ids=[c[0] for c in CASES])
def test_matches_hovernet_after_remap(name, gt, pred):
    fast = nuclei_metrics(gt, pred)
    _assert_close(fast, hv_metrics(gt, pred), ('aji', 'aji_plus', 'dq', 'sq', 'pq'), name)


def test_individual_functions_equal_nuclei_metrics():
    _, gt, pred = CASES[-1]
    all_metrics = nuclei_metrics(gt, pred)
    assert pixel_dice(gt, pred) == all_metrics['pixel_dice']
    assert aji(gt, pred) == all_metrics['aji']
    assert aji_plus(gt, pred) == all_metrics['aji_plus']
    assert panoptic_quality(gt, pred) == tuple(all_metrics[k] for k in ('dq', 'sq', 'pq'))
    assert object_dice(gt, pred) == all_metrics['object_dice']
    assert object_hausdorff(gt, pred) == all_metrics['object_hausdorff']


def test_alternative_code_paths_give_the_same_numbers(monkeypatch):
    """Sparse contingency table, sorted relabelling and KD-tree point distances."""
    for _, gt, pred in CASES[11::12]:  # the 'mixed' cases: FPs and missed nuclei
        expected = nuclei_metrics(gt, pred)
        with monkeypatch.context() as patch:
            patch.setattr(F, '_DENSE_TABLE_MAX', 0)  # np.unique contingency path
            patch.setattr(F, '_LUT_MIN_IDS', 0)
            patch.setattr(F, '_LUT_IDS_PER_PIXEL', 0)  # np.unique relabel path
            patch.setattr(F, '_DENSE_DISTANCE_MAX', 0)  # KD-tree distances
            assert nuclei_metrics(gt, pred) == expected


def test_uint64_ids_beyond_int64():
    _, gt, pred = CASES[3]
    big = np.uint64(2**63 + 11)
    gt_u = np.where(gt > 0, gt.astype(np.uint64) + big, 0).astype(np.uint64)
    assert nuclei_metrics(gt_u, pred.astype(np.uint16)) == nuclei_metrics(gt, pred)


@pytest.mark.parametrize('thr', [0.3, 0.75])
def test_pq_other_thresholds_match_hovernet(thr):
    for name, gt, pred in CASES[12:24]:
        ours = panoptic_quality(gt, pred, iou_thr=thr)
        theirs = hv_get_fast_pq(hv_remap_label(gt), hv_remap_label(pred), match_iou=thr)
        assert ours == pytest.approx(theirs, abs=1e-6), name


def _monuseg_crops():
    if not MONUSEG_MASKS.is_dir():
        pytest.skip(f'MoNuSeg label maps not found at {MONUSEG_MASKS} (shared data not mounted)')
    from mmcyclic.datasets.io import read_label_map
    paths = sorted(MONUSEG_MASKS.glob('*.png'))[:2]
    return [(p.stem, read_label_map(p)[300:556, 400:656]) for p in paths]


def test_real_monuseg_crops():
    """Two real 256x256 crops against a perturbed copy (slow reference: ~10 s)."""
    for k, (stem, gt) in enumerate(_monuseg_crops()):
        rng = np.random.default_rng(k)
        pred = _dilate(_shift(gt, 2, 1), 3)
        pred = _false_positives(rng, _split(rng, _drop(rng, pred, 0.1), 0.1))
        fast = nuclei_metrics(gt, pred)
        _assert_close(fast, reference_metrics(gt, pred), KEYS, stem)
        _assert_close(fast, hv_metrics(gt, pred), ('aji', 'aji_plus', 'dq', 'sq', 'pq'), stem)


# --------------------------------------------------------------------------- #
# Hand-made cases: ties, thresholds, Hausdorff geometry
# --------------------------------------------------------------------------- #
def test_aji_tie_goes_to_lowest_prediction_id_unlike_hovernet_epsilon():
    """Equal IoU 4/16 == 5/20 with different unions.

    The rule chooses the lower id (3); HoVer-Net's ``inter/(union+1e-6)`` picks
    the larger union instead. The difference is documented in docs/metrics.md.
    """
    gt = np.zeros((10, 10), np.int64)
    gt[0:4, 0:4] = 1  # 16 px
    pred = np.zeros_like(gt)
    pred[0, 0:4] = 3  # 4 px inside the GT: IoU 4/16
    pred[1, 0:4] = 8  # 4 px inside ...
    pred[2, 0] = 8  # ... + 1 inside (5 inside)
    pred[5:7, 5:7] = 8  # ... and 4 outside: IoU 5/20
    assert aji(gt, pred) == pytest.approx(4 / (16 + 9))
    assert reference_metrics(gt, pred)['aji'] == pytest.approx(4 / (16 + 9))
    assert hv_get_fast_aji(hv_remap_label(gt), hv_remap_label(pred)) == pytest.approx(5 / (20 + 4))


def test_pq_needs_iou_strictly_above_half():
    gt = np.zeros((8, 8), np.int64)
    gt[0:4, 0:4] = 1
    pred = np.zeros_like(gt)
    pred[0:2, 0:4] = 1  # IoU exactly 0.5
    assert panoptic_quality(gt, pred) == (0.0, 0.0, 0.0)
    pred[2, 0] = 1  # IoU 9/16
    dq, sq, pq = panoptic_quality(gt, pred)
    assert (dq, sq, pq) == (1.0, 9 / 16, 9 / 16)


def test_hausdorff_maximum_inside_the_object_not_on_its_boundary():
    """A disk covering the hole of a ring: the farthest GT pixel from the ring is the
    disk's centre, an interior pixel (a boundary-only shortcut would give 3, not 6)."""
    yy, xx = np.mgrid[:41, :41]
    r = np.hypot(yy - 20, xx - 20)
    gt = (r <= 9).astype(np.int64)
    pred = ((r >= 6) & (r <= 12)).astype(np.int64) * 5
    expected = _hausdorff_bruteforce(gt > 0, pred > 0)
    assert expected == pytest.approx(6.0)
    assert object_hausdorff(gt, pred) == pytest.approx(expected)


def test_nearest_object_tie_goes_to_lowest_id():
    gt = np.zeros((20, 20), np.int64)
    gt[10, 10] = 4
    pred = np.zeros_like(gt)
    pred[10, 13] = 2  # 3 px away, Hausdorff 3
    pred[10, 5:8] = 1  # also 3 px away (from (10, 7)), Hausdorff 5: chosen (lower id)
    # GT side: 5. Pred side: id 1 -> 5 (weight 3/4), id 2 -> 3 (weight 1/4).
    assert object_hausdorff(gt, pred) == pytest.approx(0.5 * (5 + (3 * 5 + 1 * 3) / 4))
    assert reference_metrics(gt, pred)['object_hausdorff'] == pytest.approx(4.75)


def test_far_nearest_object_tie_goes_to_lowest_id():
    """As above, 80 px apart, then with a ring around the GT nucleus: the ring has the
    closest bounding box (it contains the GT) but its pixels are 85 px away."""
    gt = np.zeros((200, 200), np.int64)
    gt[100, 100] = 4
    pred = np.zeros_like(gt)
    pred[100, 180] = 2  # 80 px away, Hausdorff 80
    pred[18:21, 100] = 1  # 80 px away from (20, 100), Hausdorff 82: chosen (lower id)
    assert object_hausdorff(gt, pred) == pytest.approx(0.5 * (82 + (3 * 82 + 1 * 80) / 4))
    yy, xx = np.mgrid[:200, :200]
    ring = (np.hypot(yy - 100, xx - 100) >= 85) & (np.hypot(yy - 100, xx - 100) < 86.5)
    pred[ring] = 9
    ring_h = _hausdorff_bruteforce(gt > 0, ring)
    n_ring = int(ring.sum())
    expected = 0.5 * (82 + (3 * 82 + 80 + n_ring * ring_h) / (4 + n_ring))
    assert object_hausdorff(gt, pred) == pytest.approx(expected)
    assert reference_metrics(gt, pred)['object_hausdorff'] == pytest.approx(expected)


def test_object_dice_partner_is_max_intersection_lowest_id_on_ties():
    gt = np.zeros((10, 10), np.int64)
    gt[0:4, 0:4] = 1  # 16 px
    pred = np.zeros_like(gt)
    pred[0:2, 0:4] = 7  # 8 px in the GT
    pred[2:4, 0:4] = 2  # 8 px in the GT too, plus 4 outside; lower id wins
    pred[4, 0:4] = 2
    dice_gt = 2 * 8 / (16 + 12)  # GT pairs with id 2
    dice_pred = (12 * (2 * 8 / 28) + 8 * (2 * 8 / 24)) / 20
    assert object_dice(gt, pred) == pytest.approx(0.5 * (dice_gt + dice_pred))


# --------------------------------------------------------------------------- #
# Empty maps, missing background, bad input
# --------------------------------------------------------------------------- #
def _some_map():
    return CASES[0][1]


def test_empty_prediction():
    gt = _some_map()
    m = nuclei_metrics(gt, np.zeros_like(gt))
    assert {k: m[k] for k in KEYS if k != 'object_hausdorff'} == dict.fromkeys(
        [k for k in KEYS if k != 'object_hausdorff'], 0.0)
    assert math.isnan(m['object_hausdorff'])
    _assert_close(m, reference_metrics(gt, np.zeros_like(gt)), KEYS, 'empty pred')


def test_empty_ground_truth():
    pred = _some_map()
    m = nuclei_metrics(np.zeros_like(pred), pred)
    assert m['aji'] == m['aji_plus'] == m['pq'] == m['pixel_dice'] == m['object_dice'] == 0.0
    assert math.isnan(m['object_hausdorff'])
    _assert_close(m, reference_metrics(np.zeros_like(pred), pred), KEYS, 'empty gt')


def test_both_empty():
    z = np.zeros((5, 7), np.uint16)
    m = nuclei_metrics(z, z)
    assert all(m[k] == 1.0 for k in KEYS if k != 'object_hausdorff')
    assert math.isnan(m['object_hausdorff'])
    assert nuclei_metrics(np.zeros((0, 0), int), np.zeros((0, 0), int))['aji'] == 1.0


def test_no_background_pixel():
    """Every pixel belongs to a nucleus; HoVer-Net would drop nucleus 1 here."""
    gt = np.ones((12, 12), np.int64)
    gt[:, 6:] = 2
    pred = np.ones_like(gt)
    pred[:, 5:] = 2
    m = nuclei_metrics(gt, pred)
    assert m['aji'] == pytest.approx((60 + 72) / (72 + 84))
    _assert_close(m, reference_metrics(gt, pred), KEYS, 'no background')
    # The HoVer-Net code takes the first id (1) for background (pitfall (b)): it
    # then drops nucleus 1 or indexes past its mask list.
    try:
        assert hv_get_fast_aji(gt, pred) != pytest.approx(m['aji'])
    except IndexError:
        pass


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r'\(4, 5\).*\(5, 4\)'):
        nuclei_metrics(np.zeros((4, 5), int), np.zeros((5, 4), int))


@pytest.mark.parametrize('dtype', [bool, np.float32, np.float64])
def test_binary_or_float_masks_are_rejected(dtype):
    good = np.zeros((4, 4), int)
    with pytest.raises(TypeError, match='binary.*not an instance label map.*scipy.ndimage.label'):
        aji(good.astype(dtype), good)
    with pytest.raises(TypeError, match='ndimage.label'):
        nuclei_metrics(good, good.astype(dtype))


def test_negative_ids_and_3d_are_rejected():
    with pytest.raises(ValueError, match='negative'):
        pixel_dice(-np.ones((3, 3), int), np.ones((3, 3), int))
    with pytest.raises(ValueError, match='2-D'):
        pixel_dice(np.ones((3, 3, 1), int), np.ones((3, 3, 1), int))
    with pytest.raises(ValueError, match='iou_thr'):
        panoptic_quality(np.ones((3, 3), int), np.ones((3, 3), int), iou_thr=1.5)


# --------------------------------------------------------------------------- #
# Legacy (authors' script) numbers
# --------------------------------------------------------------------------- #
def test_opencv_rank_hausdorff_checked_cases():
    square_a = [(10, 10), (10, 19), (19, 19), (19, 10)]
    square_b = [(12, 12), (12, 24), (29, 24), (29, 12)]
    assert F._opencv_rank_hausdorff(square_a, square_b) == pytest.approx(5.385, abs=1e-3)
    line = [(x, 0) for x in range(11)]
    assert F._opencv_rank_hausdorff(line, [(0, 0)]) == 6.0
    assert F._opencv_rank_hausdorff(line[::-1], [(0, 0)]) == 4.0


def test_legacy_hd_on_masks_uses_contour_vertices():
    pytest.importorskip('cv2')
    gt = np.zeros((40, 40), np.int64)
    pred = np.zeros_like(gt)
    pred[10:20, 10:20] = 1  # 100 px, vertices (10,10),(10,19),(19,19),(19,10)
    gt[12:25, 12:30] = 3
    assert legacy_paper_metrics(gt, pred)['hd'] == pytest.approx(5.385, abs=1e-3)


def test_legacy_aji_is_foreground_iou():
    for _, gt, pred in CASES[:12]:
        g, p = gt > 0, pred > 0
        legacy = legacy_paper_metrics(gt, pred)
        iou = np.count_nonzero(g & p) / np.count_nonzero(g | p)
        assert legacy['aji'] == pytest.approx(iou)
        # ... which is Kumar's AJI when each map is a single "instance".
        assert legacy['aji'] == pytest.approx(aji(g.astype(np.int64), p.astype(np.int64)))
        assert legacy['dice'] == pytest.approx(pixel_dice(gt, pred))
        assert legacy['dice_i'] / legacy['dice_u'] == legacy['dice']


def test_legacy_object_f1_removes_small_components_and_needs_iou_above_half():
    gt = np.zeros((60, 60), np.int64)
    pred = np.zeros_like(gt)
    gt[0:12, 0:12] = 1  # matched (IoU 120/144)
    pred[0:12, 0:10] = 5
    gt[20:30, 20:40] = 2  # IoU exactly 0.5 -> FN and FP
    pred[20:30, 20:30] = 6
    gt[50:55, 50:55] = 3  # 25 px: removed before matching, so not a FN
    pred[40:45, 0:5] = 7  # 25 px: removed, not a FP
    gt[40:50, 20:30] = 4  # two touching GT ids are one binary component
    gt[40:50, 30:40] = 9
    pred[40:50, 20:40] = 8  # ... matched as one object
    legacy = legacy_paper_metrics(gt, pred)
    assert (legacy['obj_tp'], legacy['obj_fp'], legacy['obj_fn']) == (2, 1, 1)
    assert legacy['obj_f1'] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_legacy_empty_masks():
    z = np.zeros((20, 20), np.int64)
    one = z.copy()
    one[2:15, 2:15] = 1
    legacy = legacy_paper_metrics(one, z)
    assert legacy['aji'] == 0.0 and legacy['dice'] == 0.0 and legacy['obj_f1'] == 0.0
    assert math.isnan(legacy['hd'])
    both = legacy_paper_metrics(z, z)
    assert math.isnan(both['dice']) and math.isnan(both['aji']) and math.isnan(both['obj_f1'])
