"""Hooks of the cyclic loop: seed reports, best-student bookkeeping, summary.

They are registered in mmengine's root ``HOOKS`` registry so that both the
detector's runner (scope ``mmdet``) and the classifier's (scope
``mmpretrain``) find them. Besides mmengine's hook points they implement the
cyclic loop's own: ``after_seed_extraction`` and ``after_cycle``.
"""
import math
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import set_random_seed

from mmcyclic.seeds import seed_quality_report
from mmcyclic.seeds.controls import RANDOM_SELECTION, UNTRAINED_CLASSIFIER
from mmcyclic.utils.atomic import atomic_copy, atomic_write_json
from mmcyclic.utils.figures import pyplot, save_figure

from .loop_state import read_json

# Per-student metrics of summary.json: (summary key, key in self_training.json).
STUDENT_METRICS = (('dice', 'val_pixel_dice'), ('aji', 'val_aji'), ('dice_obj', 'val_object_dice'),
                   ('hd_obj', 'val_object_hausdorff'), ('pq', 'val_pq'),
                   ('agreement_aji', 'agreement_aji'))


@HOOKS.register_module()
class ReseedEpochHook(Hook):
    """Seed the random generators from the epoch at the start of every epoch.

    Data augmentation then depends only on (seed, epoch), so a run resumed
    at an epoch boundary trains exactly as the uninterrupted run.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        set_random_seed(runner.seed + runner.epoch)


@HOOKS.register_module()
class SeedReportHook(Hook):
    """After each seed extraction, score the seeds against ground truth where
    the images have label maps: ``cycle_i/seed_quality.{json,md}`` and
    overlays of the first ``overlays`` images (when relevance maps are kept).
    """

    def __init__(self, overlays: int = 2) -> None:
        self.overlays = overlays

    @master_only
    def after_seed_extraction(self, runner, cycle: int, extraction, image_infos, data_root: str,
                              recipe, relevance_dir: Optional[str], out_dir: str) -> None:
        summary = seed_quality_report(extraction, image_infos, data_root, out_dir, recipe,
                                      relevance_dir, self.overlays)
        if summary is not None:
            controls = ''.join(f', {name} {control["precision"]:.3f}'
                               for name, control in summary['controls'].items())
            runner.logger.info(f'cyclic: cycle {cycle} seeds: precision '
                               f'{summary["precision"]:.3f}, recall {summary["recall"]:.3f} '
                               f'(IoU >= 0.5 with a ground-truth nucleus); controls: precision'
                               + (controls or ' none'))


@HOOKS.register_module()
class CyclicBestStudentHook(Hook):
    """Keep ``<work_dir>/best_student.pth``: the best student over all cycles
    so far (validation Dice), with ``best_student.json`` saying which it is."""

    @master_only
    def after_cycle(self, runner, cycle: int, records: List[Dict[str, Any]]) -> None:
        best = runner.train_loop.best_record()
        if best is None:
            return
        pointer = osp.join(runner.work_dir, 'best_student.json')
        previous = read_json(pointer) if osp.isfile(pointer) else {}
        if previous.get('checkpoint') == best['best_checkpoint']:
            return
        target = osp.join(runner.work_dir, 'best_student.pth')
        atomic_copy(best['best_checkpoint'], target)
        atomic_write_json(pointer, dict(cycle=best['cycle'], selected=best['selected'],
                                        checkpoint=best['best_checkpoint'],
                                        val_pixel_dice=best.get('val_pixel_dice')), indent=1)
        runner.logger.info(f'cyclic: best student so far: cycle {best["cycle"]} '
                           f'{best["selected"]} -> {target}')


@HOOKS.register_module()
class CyclicSummaryHook(Hook):
    """Write ``summary.json`` and ``summary.png`` and log a per-cycle table
    after every cycle."""

    @master_only
    def after_cycle(self, runner, cycle: int, records: List[Dict[str, Any]]) -> None:
        summary = cyclic_summary(records, runner.work_dir)
        atomic_write_json(osp.join(runner.work_dir, 'summary.json'), summary, indent=1)
        save_summary_plot(summary, osp.join(runner.work_dir, 'summary.png'))
        runner.logger.info('cyclic: per-cycle results (selected student, validation images)\n'
                           + format_cycle_table(summary))


def cyclic_summary(records: List[Dict[str, Any]], work_dir: str) -> Dict[str, Any]:
    """Every cycle × phase with its validation metrics, plus seed quality."""
    cycles = []
    for record in records:
        quality_file = osp.join(work_dir, f'cycle_{record["cycle"]}', 'seed_quality.json')
        quality = read_json(quality_file)['summary'] if osp.isfile(quality_file) else {}
        phases = [dict(name=p['name'], **{k: _number(p.get(src)) for k, src in STUDENT_METRICS})
                  for p in record['phases']]
        selected = next((p for p in phases if p['name'] == record['selected']), {})
        cycles.append(dict(
            cycle=record['cycle'], mode=record['mode'],
            classifier_f1=_number(record['classifier'].get('f1-score')),
            seeds=record['seeds'].get('num_seeds'), seed_source=record['seeds'].get('source'),
            seed_precision=_number(quality.get('precision')),
            seed_recall=_number(quality.get('recall')),
            seed_mean_iou=_number(quality.get('mean_iou')),
            seed_pixel_precision=_number(quality.get('pixel_precision')),
            seed_hit_rate=_number(quality.get('hit_rate')),
            seed_controls={name: dict(precision=_number(c.get('precision')),
                                      hit_rate=_number(c.get('hit_rate')), seeds=c.get('seeds'))
                           for name, c in quality.get('controls', {}).items()},
            selected=record['selected'],
            selected_by=record['selected_by'], selection_scores=record.get('selection_scores'),
            best_checkpoint=record['best_checkpoint'], hand_back=record.get('hand_back'),
            **{k: selected.get(k) for k, _ in STUDENT_METRICS}, phases=phases))
    scored = [c for c in cycles if _finite(c['dice'])]
    best = max(scored, key=lambda c: c['dice']) if scored else None
    return dict(cycles=cycles, best_cycle=best['cycle'] if best else None,
                note='Metrics are on the validation images (pixel labels), as the selection rule.')


def format_cycle_table(summary: Dict[str, Any]) -> str:
    """A markdown table: one row per cycle (its selected student)."""
    columns = ('cycle', 'classifier_f1', 'seeds', 'seed_precision', 'untrained_precision',
               'random_k_precision', 'seed_recall', 'seed_hit_rate', 'selected', 'dice', 'aji',
               'dice_obj', 'hd_obj')
    controls = {'untrained_precision': UNTRAINED_CLASSIFIER,
                'random_k_precision': RANDOM_SELECTION}
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    for row in summary['cycles']:
        cells = {c: (row.get('seed_controls') or {}).get(controls[c], {}).get('precision')
                 if c in controls else row.get(c) for c in columns}
        lines.append('| ' + ' | '.join(_cell(cells[c]) for c in columns) + ' |')
    return '\n'.join(lines)


def save_summary_plot(summary: Dict[str, Any], path: str) -> None:
    """Dice, AJI, Dice_obj (left) and HD_obj (right) of every phase of every cycle."""
    plt = pyplot()

    labels, series = [], {k: [] for k, _ in STUDENT_METRICS}
    boundaries, selected = [], []
    for row in summary['cycles']:
        boundaries.append(len(labels))
        for phase in row['phases']:
            if phase['name'] == row['selected']:
                selected.append(len(labels))
            labels.append(f'c{row["cycle"]} {phase["name"].replace("student_", "s")}')
            for key in series:
                series[key].append(_nan(phase.get(key)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(8, 0.6 * len(labels) + 4), 4))
    x = list(range(len(labels)))
    for key, name in (('dice', 'Dice'), ('aji', 'AJI'), ('dice_obj', 'Dice_obj'), ('pq', 'PQ')):
        left.plot(x, series[key], marker='o', label=name)
    for i in selected:
        left.axvline(i, color='0.8', lw=6, zorder=0)
    right.plot(x, series['hd_obj'], marker='o', color='tab:red', label='HD_obj (px)')
    for axis, title in ((left, 'validation metrics (higher is better)'),
                        (right, 'object Hausdorff (lower is better)')):
        for b in boundaries[1:]:
            axis.axvline(b - 0.5, color='k', ls=':', lw=1)
        axis.set_xticks(x)
        axis.set_xticklabels(labels, rotation=60, ha='right', fontsize=8)
        axis.set_title(title)
        axis.legend(fontsize=8)
    left.set_ylim(0, 1)
    fig.suptitle('cyclic learning: every phase of every cycle (grey = selected model)')
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _number(value: Any) -> Optional[float]:
    """JSON has no NaN: undefined metrics become null."""
    return float(value) if _finite(value) else None


def _nan(value: Any) -> float:
    return float(value) if _finite(value) else float('nan')


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.4f}' if math.isfinite(value) else '–'
    return '–' if value is None else str(value)
