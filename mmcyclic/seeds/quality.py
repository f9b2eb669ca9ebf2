"""How good are the seeds? Precision/recall against ground truth, tables, overlays.

Only meaningful where instance ground truth exists (benchmarks, simulated
labels); the weakly supervised pipeline itself never reads it.

* A seed is **correct** when it is matched to a GT nucleus with IoU >= 0.5.
  Matching is one-to-one (Hungarian, maximum total IoU over the pairs at or
  above the threshold; above 0.5 a seed can only match one nucleus anyway).
* **precision** = correct seeds / seeds, **recall** = matched GT nuclei /
  GT nuclei (low by design: at most K seeds per image), **mean IoU** = mean IoU
  of the matched pairs; also the mean best IoU of every seed with any nucleus.
* **pixel precision** = seed pixels on any GT nucleus / seed pixels: low
  pixel precision means seeds in the wrong place, high pixel precision with
  low precision means the right place with the wrong outline (or several
  nuclei in one seed).
* **hit rate** = seeds whose centroid (rounded to a pixel) lies inside a GT
  nucleus / seeds.
* Totals are micro-averaged (summed counts over images).
"""
import os
from typing import Any, Dict, Optional, Union

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from mmcyclic.apis.overlay import draw_contours
from mmcyclic.evaluation.functional import contingency
from mmcyclic.utils.figures import pyplot, save_figure

PathLike = Union[str, os.PathLike]
SEED_COLOR = (255, 255, 0)
GT_COLOR = (0, 255, 0)


def seed_quality(seeds: np.ndarray, gt: np.ndarray, iou_threshold: float = 0.5) -> Dict[str, Any]:
    """Match the seeds of one image to its GT nuclei.

    Args:
        seeds: Seed label map (0 = background).
        gt: Instance ground truth of the same shape.
        iou_threshold: Smallest IoU of a correct seed.

    Returns:
        ``{'seeds', 'gt', 'matched', 'iou_sum', 'best_iou_sum', 'seed_pixels',
        'seed_pixels_on_gt', 'hits', 'precision', 'recall', 'mean_iou',
        'mean_best_iou', 'pixel_precision', 'hit_rate'}`` (ratios over seeds
        are NaN without seeds).
    """
    seeds, gt = np.asarray(seeds), np.asarray(gt)
    table = contingency(gt, seeds)
    iou = np.zeros((table.n_pred, table.n_gt))
    iou[table.pair_pred, table.pair_gt] = table.pair_iou
    best = iou.max(axis=1) if table.n_gt else np.zeros(table.n_pred)
    weight = np.where(iou >= iou_threshold, iou, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    matched = weight[rows, cols] > 0
    result = {'seeds': table.n_pred, 'gt': table.n_gt, 'matched': int(matched.sum()),
              'iou_sum': float(weight[rows, cols][matched].sum()),
              'best_iou_sum': float(best.sum()), **_placement(seeds, gt)}
    return {**result, **_ratios(result)}


def _placement(seeds: np.ndarray, gt: np.ndarray) -> Dict[str, int]:
    """Seed pixels, those on a GT nucleus, and seeds whose centroid lies in a nucleus."""
    ids = np.unique(seeds[seeds > 0])
    centroids = ndimage.center_of_mass(np.ones(seeds.shape), seeds, ids) if ids.size else []
    hits = sum(int(gt[tuple(np.clip(np.rint(c).astype(int), 0, np.array(gt.shape) - 1))] > 0)
               for c in centroids)
    return {'seed_pixels': int((seeds > 0).sum()),
            'seed_pixels_on_gt': int(((seeds > 0) & (gt > 0)).sum()), 'hits': hits}


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float('nan')


def _ratios(counts: Dict[str, Any]) -> Dict[str, float]:
    seeds, matched = counts['seeds'], counts['matched']
    return {'precision': _ratio(matched, seeds),
            'recall': _ratio(matched, counts['gt']),
            'mean_iou': _ratio(counts['iou_sum'], matched),
            'mean_best_iou': _ratio(counts['best_iou_sum'], seeds),
            'pixel_precision': _ratio(counts['seed_pixels_on_gt'], counts['seed_pixels']),
            'hit_rate': _ratio(counts['hits'], seeds)}


def summarise_quality(per_image: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Micro-averaged totals over images, plus seeds per image and empty images."""
    keys = ('seeds', 'gt', 'matched', 'iou_sum', 'best_iou_sum', 'seed_pixels',
            'seed_pixels_on_gt', 'hits')
    totals = {k: sum(r[k] for r in per_image.values()) for k in keys}
    n = len(per_image)
    return {'images': n, **totals, **_ratios(totals),
            'seeds_per_image': totals['seeds'] / n if n else float('nan'),
            'images_without_seeds': sum(1 for r in per_image.values() if r['seeds'] == 0)}


def format_quality_table(per_image: Dict[str, Dict[str, Any]], summary: Dict[str, Any]) -> str:
    """Markdown table: one row per image and a micro-averaged total row."""
    lines = ['| image | seeds | GT nuclei | correct (IoU>=0.5) | precision | recall | mean IoU '
             '| pixel precision | hit rate |', '|---|---|---|---|---|---|---|---|---|']
    rows = list(per_image.items()) + [('**total**', summary)]
    for name, r in rows:
        lines.append(f"| {name} | {r['seeds']} | {r['gt']} | {r['matched']} | "
                     f"{r['precision']:.3f} | {r['recall']:.4f} | {r['mean_iou']:.3f} | "
                     f"{r['pixel_precision']:.3f} | {r['hit_rate']:.3f} |")
    return '\n'.join(lines)


def save_seed_overlay(path: PathLike, image: np.ndarray, relevance: np.ndarray,
                      seeds: np.ndarray, gt: Optional[np.ndarray] = None, title: str = '',
                      threshold: Optional[float] = None, normalised: Optional[np.ndarray] = None
                      ) -> None:
    """Save a two-panel PNG: relevance heat map | image with GT (green) and seed (yellow) contours.

    Args:
        path: PNG to write (atomically).
        image: ``H x W x 3`` uint8 RGB.
        relevance: Raw relevance map (shown with a symmetric colour scale).
        seeds: Seed label map.
        gt: Optional GT label map.
        title: Figure title.
        threshold: Drawn as a contour of ``normalised`` when both are given.
        normalised: The recipe's normalised map.
    """
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(12, 6.3))
    limit = float(np.percentile(np.abs(relevance), 99.5)) or 1.0
    axes[0].imshow(image)
    axes[0].imshow(relevance, cmap='bwr', vmin=-limit, vmax=limit, alpha=0.6)
    if threshold is not None and normalised is not None:
        axes[0].contour(normalised > threshold, levels=[0.5], colors='k', linewidths=0.5)
    theta_note = f'; black: > theta={threshold}' if threshold is not None else ''
    axes[0].set_title('relevance (red +, blue -)' + theta_note, fontsize=10)
    shown = image if gt is None else draw_contours(image, gt, GT_COLOR)
    shown = draw_contours(shown, seeds, SEED_COLOR, thickness=2)
    axes[1].imshow(shown)
    n_seeds = len(np.unique(seeds)) - int((seeds == 0).any())
    axes[1].set_title(f'{n_seeds} seeds (yellow)' + ('; GT (green)' if gt is not None else ''),
                      fontsize=10)
    for ax in axes:
        ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
