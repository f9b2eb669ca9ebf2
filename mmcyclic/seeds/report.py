"""Seed-quality report against ground truth, shared by the tool and the cycle."""
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.logging import print_log

from mmcyclic.datasets.io import ImageReadError, read_image, read_label_map
from mmcyclic.utils.atomic import atomic_write_bytes, atomic_write_json

from .controls import RANDOM_SELECTION, UNTRAINED_CLASSIFIER
from .extract import SeedExtraction
from .quality import format_quality_table, save_seed_overlay, seed_quality, summarise_quality
from .recipe import SeedRecipe, SeedResult


def seed_quality_report(extraction: SeedExtraction, image_infos: List[Dict[str, Any]],
                        data_root: str, report_dir: str, recipe: SeedRecipe,
                        relevance_dir: Optional[str] = None,
                        overlays: int = 2) -> Optional[Dict[str, Any]]:
    """Score seeds against the images' ground-truth label maps and draw overlays.

    Writes ``seed_quality.json`` and ``seed_quality.md`` into ``report_dir``
    and, for the first ``overlays`` images whose relevance map was saved in
    ``relevance_dir``, ``overlays/<source_id>.png``.

    The controls of ``extraction.controls`` (:mod:`mmcyclic.seeds.controls`) are scored on
    the same images: ``controls`` in the JSON and summary (``{name: summary}``), and a
    comparison table in the markdown file.

    Returns:
        The summary (precision, recall, mean IoU, seeds per image, ``controls``), or None
        when no image has a readable ground-truth label map.
    """
    per_image: Dict[str, Dict[str, Any]] = {}
    ground_truth: Dict[str, np.ndarray] = {}
    drawn = 0
    for img in image_infos:
        source_id = str(img.get('source_id', img['id']))
        result = extraction.results.get(source_id)
        if result is None or not img.get('label_map'):
            continue
        try:
            gt = read_label_map(osp.join(data_root, img['label_map']))
        except ImageReadError as error:
            print_log(f'seed quality: no ground truth for {source_id}: {error}',
                      logger='current', level=30)
            continue
        per_image[source_id] = seed_quality(result.label_map, gt)
        ground_truth[source_id] = gt
        relevance_file = osp.join(relevance_dir, f'{source_id}.npy') if relevance_dir else None
        if drawn < overlays and relevance_file and osp.isfile(relevance_file):
            relevance = np.load(relevance_file)
            save_seed_overlay(
                osp.join(report_dir, 'overlays', f'{source_id}.png'),
                read_image(osp.join(data_root, img['file_name'])), relevance, result.label_map,
                gt, title=(f'{source_id}: theta={recipe.config.threshold}, '
                           f'K={recipe.config.max_seeds}'),
                threshold=recipe.config.threshold, normalised=recipe.normalise(relevance))
            drawn += 1
    if not per_image:
        print_log('seed quality: no ground truth found, no report', logger='current')
        return None
    summary = summarise_quality(per_image)
    summary['controls'] = score_controls(extraction.controls, ground_truth)
    table = format_quality_table(per_image, summary)
    if summary['controls']:
        table += '\n\n' + format_control_table(summary)
    print_log('\n' + table, logger='current')
    atomic_write_json(osp.join(report_dir, 'seed_quality.json'),
                      {'summary': summary, 'per_image': per_image,
                       'recipe': recipe.config.to_dict()}, indent=1)
    atomic_write_bytes(osp.join(report_dir, 'seed_quality.md'), (table + '\n').encode())
    return summary


def score_controls(controls: Dict[str, Dict[str, SeedResult]],
                   ground_truth: Dict[str, np.ndarray]) -> Dict[str, Dict[str, Any]]:
    """``{control: micro-averaged quality}`` on the images that have ground truth.

    Args:
        controls (dict): ``SeedExtraction.controls``.
        ground_truth (dict): ``{source_id: instance label map}``.
    """
    scored = {}
    for name, results in controls.items():
        per_image = {source_id: seed_quality(results[source_id].label_map, gt)
                     for source_id, gt in ground_truth.items() if source_id in results}
        if per_image:
            scored[name] = summarise_quality(per_image)
    return scored


def format_control_table(summary: Dict[str, Any]) -> str:
    """Markdown: the seeds beside their controls (precision, hit rate, seeds)."""
    lines = ['| seeds from | seeds | precision | hit rate | pixel precision |',
             '|---|---|---|---|---|']
    rows = [('this classifier, this recipe', summary)] + [
        (CONTROL_LABELS.get(name, name), control)
        for name, control in summary['controls'].items()]
    for label, r in rows:
        lines.append(f"| {label} | {r['seeds']} | {r['precision']:.3f} | {r['hit_rate']:.3f} | "
                     f"{r['pixel_precision']:.3f} |")
    return '\n'.join(lines)


CONTROL_LABELS = {UNTRAINED_CLASSIFIER: 'control: untrained classifier, same recipe',
                  RANDOM_SELECTION: 'control: same relevance, K drawn at random'}
