"""Tables of scripts/experiments/results_sparse_labels.sh: per run, and per row (mean ± std over
seeds).

    python scripts/experiments/results_sparse_labels_table.py work_dirs/sparse_labels

Reads ``<row>_seed<s>/test/metrics.json`` (the run's selected model on the 14 Kumar test
images), ``<row>_seed<s>/self_training/self_training.json`` (validation Dice of each phase, the
selected phase) or, for the fully supervised row, the validation scalars of mmengine's log, and
``test/wall_seconds.txt``; prints markdown. The last column divides a row's mean test AJI by
the fully supervised row's.
"""
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from result_tables import mean_std, test_metrics

KEYS = (('Dice', 'pixel_dice'), ('AJI', 'aji'), ('AJI+', 'aji_plus'), ('PQ', 'pq'), ('SQ', 'sq'),
        ('Dice_obj', 'object_dice'))
FULL = 'full_supervision'


def validation(run: Path) -> Tuple[List[Tuple[str, float, float]], str]:
    """(phase or epoch, validation Dice, validation AJI) of a run and the one that was tested."""
    summary = run / 'self_training' / 'self_training.json'
    if summary.is_file():
        data = json.loads(summary.read_text())
        return ([(p['name'], p['val_pixel_dice'], p['val_aji']) for p in data['phases']
                 if p.get('val_pixel_dice') is not None], data['selected'])
    scores = []
    for scalars in sorted(run.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            if 'nuclei/pixel_dice' in entry:
                scores.append((f'epoch {entry["step"]}', entry['nuclei/pixel_dice'],
                               entry['nuclei/aji']))
    best = sorted(run.glob('best_nuclei_pixel_dice_epoch_*.pth'))
    return scores, (f'epoch {best[0].stem.rsplit("_", 1)[1]}' if best else '?')


def selected_validation(run: Path) -> Tuple[float, float]:
    """Validation (Dice, AJI) of the phase or epoch that was tested."""
    scores, tested = validation(run)
    return next((dice, aji) for name, dice, aji in scores if name == tested)


def main(out: Path) -> None:
    runs = sorted(p for p in out.iterdir() if re.fullmatch(r'\w+_seed\d+', p.name)
                  and (p / 'test' / 'metrics.json').is_file())
    by_row: Dict[str, List[Path]] = {}
    print('| run | val Dice per phase | tested | ' + ' | '.join(f'test {n}' for n, _ in KEYS)
          + ' | wall (min) |')
    print('|---|---|---|' + '---|' * (len(KEYS) + 1))
    for run in runs:
        by_row.setdefault(run.name.rsplit('_seed', 1)[0], []).append(run)
        scores, tested = validation(run)
        metrics = test_metrics(run / 'test' / 'metrics.json', KEYS)
        wall = run / 'test' / 'wall_seconds.txt'
        minutes = f'{int(wall.read_text()) / 60:.1f}' if wall.is_file() else '–'
        print(f'| {run.name} | ' + ', '.join(f'{n} {d:.3f}' for n, d, _ in scores)
              + f' | {tested} | ' + ' | '.join(f'{metrics[n]:.4f}' for n, _ in KEYS)
              + f' | {minutes} |')
    print()
    full_aji = None
    if FULL in by_row:
        full_aji = statistics.mean(test_metrics(r / 'test' / 'metrics.json', KEYS)['AJI']
                                   for r in by_row[FULL])
    print('| row | seeds | val Dice | val AJI | ' + ' | '.join(f'test {n}' for n, _ in KEYS)
          + ' | AJI / full |')
    print('|---|---|---|---|' + '---|' * (len(KEYS) + 1))
    for row, row_runs in by_row.items():
        metrics = [test_metrics(r / 'test' / 'metrics.json', KEYS) for r in row_runs]
        ratio = (f'{statistics.mean(m["AJI"] for m in metrics) / full_aji:.2f}'
                 if full_aji else '–')
        val = [selected_validation(r) for r in row_runs]
        print(f'| {row} | {len(row_runs)} | {mean_std([v[0] for v in val])} | '
              f'{mean_std([v[1] for v in val])} | '
              + ' | '.join(mean_std([m[n] for m in metrics]) for n, _ in KEYS)
              + f' | {ratio} |')


if __name__ == '__main__':
    main(Path(sys.argv[1]))
