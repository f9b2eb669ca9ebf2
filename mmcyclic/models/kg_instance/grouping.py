"""From keypoint maps to scored boxes: Hough voting, peaks, keypoint-graph grouping.

Follows the official post-processing of KG Instance (``postprocessing.py``),
adapted in two places (the score scale and sub-pixel peaks), same rules otherwise:

1. **Votes** — every pixel adds its keypoint probability at ``pixel + short
   offset`` (bilinear), per keypoint type; the sum is divided by ``πR²`` (a
   disc's area) and smoothed with a Gaussian of ``sigma`` 2.
2. **Peaks** — 4-neighbour local maxima above ``peak_thr`` (adapted: refined
   to sub-pixel position; the official peaks are whole pixels, which at
   stride 8 puts a box side up to 4 px off).
3. **Grouping** — keypoints in decreasing confidence seed a group unless a
   group already has a keypoint of that type within ``skip_dist``; from the
   seed, each other type is proposed at ``seed + mid offset`` and the nearest
   free keypoint of that type within ``R + 1`` joins.
4. **Boxes** — a group with at least 3 keypoints, or a diagonal corner pair,
   makes a box: each side from its corners, or mirrored about the centre when
   its corners are missing (the official code's case list, in one rule).

Score scale (adapted): the official confidence is the mean raw vote of the
group's keypoints, whose ideal value is ``1/(2πσ²) ≈ 0.04`` (a perfect disc
voting into one pixel, then smoothed), so a 0.5 threshold would drop every
detection. Here a vote map is divided by its ideal peak (the smoothing
kernel's centre weight) and a peak's height is read at its sub-pixel maximum
(a keypoint between pixels splits its votes), so a keypoint whose whole disc
votes for one point with probability 1 has confidence about 1 (clipped at 1).
Peaks, their order in the grouping and ``peak_thr`` use this vote scale
(``peak_thr`` 0.1 is the official 0.004 on the raw one).

A box scores ``Σ keypoint scores / 5`` (missing keypoints count 0, where the
official code averages the present ones only): near 1 only for a complete,
confident keypoint graph; a box from fewer keypoints scores at most their
share (a diagonal pair ≤ 0.4), and a lone keypoint makes no box at all. A
keypoint's score is, with ``box_score='heatmap'`` (default), the heatmap
probability at its position; ``box_score='votes'`` uses the vote height,
which also measures how tightly the short offsets agree and so stays low
while they are imprecise: on validation (docs/kg_instance.md) both rank right
and wrong boxes alike, but the median right box scores 0.60 with the heatmap
and 0.31 with the votes, so the project's 0.5 threshold keeps 38 % of the
nuclei instead of 10 % at the same precision.
"""
from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .targets import DIRECTED_EDGES, NUM_KEYPOINTS, map_to_image, pixel_grid


def gaussian_kernel_1d(sigma: float) -> Tensor:
    """Normalised 1-D Gaussian truncated at 4σ (as ``scipy.ndimage.gaussian_filter``)."""
    half = int(4 * sigma + 0.5)
    x = torch.arange(-half, half + 1, dtype=torch.float32)
    kernel = torch.exp(-x**2 / (2 * sigma**2))
    return kernel / kernel.sum()


def vote_maps(probs: Tensor, short: Tensor, radius: float, sigma: float) -> Tensor:
    """Hough votes of every keypoint type, on a [0, 1]-like scale (1 = an ideal keypoint).

    Args:
        probs: ``(5, h, w)`` keypoint probabilities.
        short: ``(10, h, w)`` short offsets (x, y per type), map pixels.
        radius: Disc radius ``R`` of the targets.
        sigma: Gaussian smoothing of the votes (the paper: 2).

    Returns:
        ``(5, h, w)`` smoothed votes divided by their ideal peak (not clipped).
    """
    kinds, height, width = probs.shape
    grid = pixel_grid((height, width), probs.device)
    target = grid[None] + short.reshape(kinds, 2, -1).permute(0, 2, 1)  # (5, hw, 2)
    base = target.floor()
    frac = target - base
    weights = probs.reshape(kinds, -1)
    votes = torch.zeros(kinds * height * width, device=probs.device)
    for dx in (0, 1):
        for dy in (0, 1):
            x, y = base[..., 0] + dx, base[..., 1] + dy
            share = (frac[..., 0] if dx else 1 - frac[..., 0]) * (
                frac[..., 1] if dy else 1 - frac[..., 1])
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            offset = torch.arange(kinds, device=probs.device)[:, None] * height * width
            index = (offset + y.long() * width + x.long())[inside]
            votes.index_add_(0, index, (weights * share)[inside])
    votes = votes.reshape(1, kinds, height, width) / (np.pi * radius**2)
    kernel = gaussian_kernel_1d(sigma).to(probs.device)
    half = len(kernel) // 2
    row = kernel.view(1, 1, 1, -1).expand(kinds, 1, 1, -1)
    votes = F.conv2d(F.pad(votes, (half, half, 0, 0)), row, groups=kinds)
    votes = F.conv2d(F.pad(votes, (0, 0, half, half)), row.transpose(2, 3), groups=kinds)
    return votes[0] / (kernel[half] ** 2)


def find_peaks(votes: Tensor, peak_thr: float, max_per_type: int) -> List[np.ndarray]:
    """4-neighbour local maxima above ``peak_thr``, per type: ``(m, 3)`` arrays of x, y, conf.

    Each peak is refined to sub-pixel position and height by a parabola through
    it and its neighbours along each axis (a keypoint between two pixels splits
    its votes between them); the confidence is that height clipped at 1. Each
    type keeps its ``max_per_type`` most confident peaks.
    """
    padded = F.pad(votes[None], (1, 1, 1, 1), mode='replicate')[0]
    centre = padded[:, 1:-1, 1:-1]
    up, down = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]
    left, right = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]
    is_peak = ((centre >= up) & (centre >= down) & (centre >= left) & (centre >= right)
               & (centre > peak_thr))
    peaks = []
    for kind in range(votes.shape[0]):
        ys, xs = torch.nonzero(is_peak[kind], as_tuple=True)
        height = centre[kind, ys, xs]
        position = []
        for before, after in ((left, right), (up, down)):
            v_minus, v_plus = before[kind, ys, xs], after[kind, ys, xs]
            curvature = (2 * height - v_minus - v_plus).clamp(min=1e-12)
            shift = ((v_plus - v_minus) / (2 * curvature)).clamp(-0.5, 0.5)
            height = height + (v_plus - v_minus) * shift / 4
            position.append(shift)
        conf = height.clamp(max=1.0)
        order = torch.argsort(conf, descending=True)[:max_per_type]
        peaks.append(torch.stack([xs[order] + position[0][order], ys[order] + position[1][order],
                                  conf[order]], 1).cpu().numpy().reshape(-1, 3))
    return peaks


def group_keypoints(peaks: List[np.ndarray], mid: np.ndarray, radius: float,
                    skip_dist: float) -> List[np.ndarray]:
    """Greedy keypoint-graph grouping (official ``group_skeletons``).

    Args:
        peaks: Per type, ``(m, 3)`` x, y, conf (:func:`find_peaks`).
        mid: ``(40, h, w)`` mid offsets (x, y per directed edge).
        radius: Disc radius ``R``; a proposed keypoint joins within ``R + 1``.
        skip_dist: A keypoint seeds no group within this distance of a
            same-type keypoint of an existing group.

    Returns:
        One ``(5, 3)`` array per group (x, y, conf; conf 0 = type missing).
    """
    kinds = np.concatenate([np.full(len(p), k) for k, p in enumerate(peaks)]).astype(int)
    points = np.concatenate(peaks).reshape(-1, 3)
    free = np.ones(len(points), dtype=bool)
    height, width = mid.shape[1:]
    groups: List[np.ndarray] = []
    placed: List[List[np.ndarray]] = [[] for _ in range(NUM_KEYPOINTS)]
    for seed in np.argsort(-points[:, 2], kind='stable'):
        if not free[seed]:
            continue
        free[seed] = False
        kind, xy = kinds[seed], points[seed, :2]
        if placed[kind] and (np.linalg.norm(np.asarray(placed[kind]) - xy, axis=1)
                             <= skip_dist).any():
            continue
        group = np.zeros((NUM_KEYPOINTS, 3))
        group[kind] = points[seed]
        col = int(np.clip(np.round(xy[0]), 0, width - 1))
        row = int(np.clip(np.round(xy[1]), 0, height - 1))
        for other in range(NUM_KEYPOINTS):
            if other == kind:
                continue
            edge = DIRECTED_EDGES.index((kind, other))
            proposal = xy + mid[2 * edge:2 * edge + 2, row, col]
            candidates = np.flatnonzero(free & (kinds == other))
            if not len(candidates):
                continue
            distance = np.linalg.norm(points[candidates, :2] - proposal, axis=1)
            nearest = int(np.argmin(distance))
            if distance[nearest] <= radius + 1:
                free[candidates[nearest]] = False
                group[other] = points[candidates[nearest]]
        for k in range(NUM_KEYPOINTS):
            if group[k, 2] > 0:
                placed[k].append(group[k, :2])
        groups.append(group)
    return groups


def group_to_box(group: np.ndarray) -> Tuple[np.ndarray, float]:
    """The box ``(x1, y1, x2, y2)`` (map coordinates) and score of one group, or ``(None, 0)``.

    A group makes a box when it has 3+ keypoints or a diagonal corner pair;
    each side comes from its corners, or is the opposite side mirrored about
    the centre. Score: ``Σ conf / 5``.
    """
    present = group[:, 2] > 0
    tl, tr, bl, br, centre = present
    if present.sum() < 3 and not ((tl and br) or (tr and bl)):
        return None, 0.0
    sides = []
    for near, far, axis, pick in (((0, 2), (1, 3), 0, np.min), ((0, 1), (2, 3), 1, np.min),
                                  ((1, 3), (0, 2), 0, np.max), ((2, 3), (0, 1), 1, np.max)):
        own = [group[k, axis] for k in near if present[k]]
        if own:
            sides.append(pick(own))
            continue
        opposite = [group[k, axis] for k in far if present[k]]
        if not (centre and opposite):
            return None, 0.0
        mirror = np.max if pick is np.min else np.min
        sides.append(2 * group[4, axis] - mirror(opposite))
    x1, y1, x2, y2 = sides
    if x2 <= x1 or y2 <= y1:
        return None, 0.0
    return np.array([x1, y1, x2, y2]), float(group[:, 2].sum() / NUM_KEYPOINTS)


def heatmap_scores(group: np.ndarray, kp_probs: np.ndarray) -> np.ndarray:
    """``group`` with each present keypoint's confidence replaced by the heatmap
    probability of its type at its (nearest-pixel) position."""
    rescored = group.copy()
    height, width = kp_probs.shape[1:]
    for kind in np.flatnonzero(group[:, 2] > 0):
        col = int(np.clip(np.round(group[kind, 0]), 0, width - 1))
        row = int(np.clip(np.round(group[kind, 1]), 0, height - 1))
        # Kept above 0: group_to_box reads a keypoint's presence from a positive confidence.
        rescored[kind, 2] = max(float(kp_probs[kind, row, col]), 1e-6)
    return rescored


def decode_boxes(kp_probs: Tensor, short: Tensor, mid: Tensor, stride: int, radius: float,
                 sigma: float = 2.0, peak_thr: float = 0.1, skip_dist: float = 10.0,
                 max_keypoints: int = 1000, box_score: str = 'heatmap') -> Tuple[Tensor, Tensor]:
    """Boxes and scores of one image from one stride's maps.

    Args:
        kp_probs: ``(5, h, w)`` keypoint probabilities (after the sigmoid).
        short: ``(10, h, w)`` short offsets; ``mid``: ``(40, h, w)`` mid offsets.
        stride: Output stride of the maps (boxes come back in image pixels).
        radius, sigma, peak_thr, skip_dist: See the module docstring.
        max_keypoints: Peaks kept per type (bounds the grouping's work).
        box_score: ``'heatmap'`` or ``'votes'``: what a keypoint adds to its
            box's score (see the module docstring).

    Returns:
        ``(n, 4)`` xyxy boxes in image pixels and ``(n,)`` scores in [0, 1].
    """
    if box_score not in ('heatmap', 'votes'):
        raise ValueError(f"test_cfg.box_score must be 'heatmap' or 'votes', got {box_score!r}")
    kp_probs, short = kp_probs.detach().float(), short.detach().float()
    votes = vote_maps(kp_probs, short, radius, sigma)
    peaks = find_peaks(votes, peak_thr, max_keypoints)
    groups = group_keypoints(peaks, mid.detach().float().cpu().numpy(), radius, skip_dist)
    probs = kp_probs.cpu().numpy() if box_score == 'heatmap' else None
    boxes, scores = [], []
    for group in groups:
        box, score = group_to_box(group if probs is None else heatmap_scores(group, probs))
        if box is not None:
            boxes.append(box)
            scores.append(score)
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                            device=kp_probs.device)
    corners = map_to_image(boxes.reshape(-1, 2, 2), stride).reshape(-1, 4)
    return corners, torch.as_tensor(scores, dtype=torch.float32, device=kp_probs.device)
