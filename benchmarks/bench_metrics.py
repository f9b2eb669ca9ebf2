"""Benchmark ``nuclei_metrics`` against a straightforward per-object reference.

On real MoNuSeg 1000x1000 label maps, a prediction is made by perturbing the
ground truth (shift, dilate, erode, drop, split and merge some nuclei, add
false positives). ``mmcyclic.evaluation.nuclei_metrics`` is timed (median of
``--runs`` runs) against ``reference_metrics`` from
``tests/test_evaluation/test_functional.py``, which builds one full-image mask
per object like HoVer-Net's ``stats_utils`` (median of ``--ref-runs`` runs).
Also reported: peak extra memory of one call of each (tracemalloc, in a
separate run so tracing does not distort the timings) and the largest absolute
difference of every metric between the two.

Usage::

    python benchmarks/bench_metrics.py [--images 3] [--runs 7] [--ref-runs 1] [--no-doc]

Prints a markdown report and replaces the ``## Metrics`` section of
``docs/benchmarks.md`` (other sections are kept).
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # one core, as the targets are stated

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import ndimage  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if 'mmcyclic' not in sys.modules and importlib.util.find_spec('mmcyclic') is None:
    sys.path.insert(0, str(ROOT))

from mmcyclic.datasets.io import read_label_map  # noqa: E402
from mmcyclic.evaluation import nuclei_metrics  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import DOC, peak_mb, publish  # noqa: E402

DATA = ROOT.parent / 'shared' / 'data' / 'monuseg' / 'train' / 'instance_masks'
KEYS = ('pixel_dice', 'aji', 'aji_plus', 'dq', 'sq', 'pq', 'object_dice', 'object_hausdorff')


def load_reference():
    """``reference_metrics`` of the test file (kept in one place, not copied)."""
    path = ROOT / 'tests' / 'test_evaluation' / 'test_functional.py'
    spec = importlib.util.spec_from_file_location('_metrics_reference', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda gt, pred: module.reference_metrics(gt, pred, overlapping_only=True)


def perturb(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible imperfect prediction made from the ground truth."""
    ids = np.unique(gt)
    ids = ids[ids != 0]
    role = rng.random(len(ids))
    pick = lambda lo, hi: ids[(role >= lo) & (role < hi)]  # noqa: E731
    dropped, shifted, dilated, eroded, split = (pick(0, .05), pick(.05, .25), pick(.25, .40),
                                                pick(.40, .50), pick(.50, .55))
    pred = np.where(np.isin(gt, dropped), 0, gt)
    # Erode: keep only pixels whose 3x3 neighbourhood is one label.
    interior = ndimage.minimum_filter(gt, 3) == ndimage.maximum_filter(gt, 3)
    pred[np.isin(gt, eroded) & ~interior] = 0
    # Dilate by 2 px into the background.
    grown = ndimage.grey_dilation(np.where(np.isin(gt, dilated), gt, 0), size=(5, 5))
    fill = (pred == 0) & (gt == 0) & (grown > 0)
    pred[fill] = grown[fill]
    slices = ndimage.find_objects(gt)
    next_id = int(gt.max()) + 1
    for i in shifted:  # move by up to 3 px, painting over whatever is there
        sl = slices[i - 1]
        ys, xs = np.nonzero(gt[sl] == i)
        ys, xs = ys + sl[0].start, xs + sl[1].start
        dy, dx = rng.integers(-3, 4, size=2)
        pred[ys, xs] = np.where(pred[ys, xs] == i, 0, pred[ys, xs])
        ys, xs = np.clip(ys + dy, 0, gt.shape[0] - 1), np.clip(xs + dx, 0, gt.shape[1] - 1)
        pred[ys, xs] = i
    for i in split:  # cut in two along the centroid row
        mask = pred == i
        rows = np.nonzero(mask)[0]
        if len(rows):
            pred[mask & (np.arange(gt.shape[0])[:, None] > rows.mean())] = next_id
            next_id += 1
    # Merge 10 pairs of touching nuclei.
    left, right = gt[:, :-1], gt[:, 1:]
    touch = (left > 0) & (right > 0) & (left != right)
    touching = np.unique(np.stack([left[touch], right[touch]], axis=1), axis=0)
    for a, b in touching[rng.permutation(len(touching))[:10]]:
        pred[pred == b] = a
    # 30 false positives in the background.
    yy, xx = np.ogrid[:gt.shape[0], :gt.shape[1]]
    for _ in range(30):
        cy, cx = rng.integers(0, gt.shape[0]), rng.integers(0, gt.shape[1])
        disk = ((yy - cy)**2 + (xx - cx)**2 <= rng.integers(4, 8)**2) & (pred == 0) & (gt == 0)
        pred[disk] = next_id
        next_id += 1
    return pred


def timed(fn, runs):
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def cpu_name():
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=3, help='number of MoNuSeg maps')
    parser.add_argument('--select', choices=['spread', 'first'], default='spread',
                        help='spread: maps spanning the nucleus counts (fewest ... most); '
                        'first: the first maps in name order')
    parser.add_argument('--runs', type=int, default=7, help='timed runs of nuclei_metrics')
    parser.add_argument('--ref-runs', type=int, default=1, help='timed runs of the reference')
    parser.add_argument('--machine', default=None, help='machine description for the report')
    parser.add_argument('--no-doc', action='store_true', help=f'do not update {DOC}')
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f'ERROR: MoNuSeg label maps not found at {DATA}')
    reference = load_reference()
    paths = sorted(DATA.glob('*.png'))
    if args.select == 'first':
        paths = paths[:args.images]
    else:  # fewest, ..., most nuclei: the densest maps are the slowest for both
        counts = [len(np.unique(read_label_map(p))) - 1 for p in paths]
        order = np.argsort(counts, kind='stable')
        picks = np.unique(np.linspace(0, len(paths) - 1, args.images).round().astype(int))
        paths = [paths[order[k]] for k in picks]
    load_before = os.getloadavg()[0] if hasattr(os, 'getloadavg') else math.nan

    rows, max_diff = [], dict.fromkeys(KEYS, 0.0)
    for k, path in enumerate(paths):
        gt = read_label_map(path)
        pred = perturb(gt, np.random.default_rng(k))
        fast_s, fast = timed(lambda: nuclei_metrics(gt, pred), args.runs)
        ref_s, ref = timed(lambda: reference(gt, pred), args.ref_runs)
        fast_mb = peak_mb(lambda: nuclei_metrics(gt, pred))
        ref_mb = peak_mb(lambda: reference(gt, pred))
        for key in KEYS:
            max_diff[key] = max(max_diff[key], abs(fast[key] - ref[key]))
        n_gt, n_pred = len(np.unique(gt)) - 1, len(np.unique(pred)) - 1
        rows.append((path.stem, n_gt, n_pred, fast_s, ref_s, fast_mb, ref_mb, fast))
        print(f'{path.stem}: fast {fast_s:.4f} s, reference {ref_s:.2f} s, '
              f'fast {fast_mb:.1f} MB, reference {ref_mb:.0f} MB', file=sys.stderr)

    selection = ('spanning the range of nucleus counts of the 30 training maps: fewest … most'
                 if args.select == 'spread' else 'the first ones in name order')
    machine = args.machine or f'{cpu_name()}, {os.cpu_count()} cores (shared with other jobs)'
    load_after = os.getloadavg()[0] if hasattr(os, 'getloadavg') else math.nan
    lines = [
        f'Command: `python benchmarks/bench_metrics.py --images {args.images} '
        f'--select {args.select} --runs {args.runs} --ref-runs {args.ref_runs}`',
        f'Machine: {machine}; Python {platform.python_version()}, numpy {np.__version__}, '
        f'scipy {scipy.__version__}; single-threaded (OMP_NUM_THREADS=1); 1-min load average '
        f'{load_before:.2f} at the start, {load_after:.2f} at the end.',
        'Data: real MoNuSeg 1000×1000 GT label maps (' + selection
        + '); prediction = GT with 5 % of the nuclei dropped, '
        '20 % shifted by up to 3 px, 15 % dilated by 2 px, 10 % eroded by 1 px, 5 % split, '
        '10 touching pairs merged and 30 false positives added (seed = image index).',
        f'`nuclei_metrics`: median of {args.runs} runs. Reference: `reference_metrics` of '
        '`tests/test_evaluation/test_functional.py` (one full-image mask per object, '
        'overlapping pairs found as HoVer-Net does, brute-force Hausdorff), median of '
        f'{args.ref_runs} run(s). Memory: tracemalloc peak of one call, in a separate untimed run.',
        '',
        '| image | GT / pred nuclei | nuclei_metrics (s) | reference (s) | speed-up '
        '| nuclei_metrics peak (MB) | reference peak (MB) |',
        '|---|---|---|---|---|---|---|',
    ]
    for stem, n_gt, n_pred, fast_s, ref_s, fast_mb, ref_mb, _ in rows:
        lines.append(f'| {stem} | {n_gt} / {n_pred} | {fast_s:.4f} | {ref_s:.2f} | '
                     f'{ref_s / fast_s:.0f}× | {fast_mb:.1f} | {ref_mb:.0f} |')
    lines += ['', 'Largest |nuclei_metrics − reference| over these images, '
              'and the values on the first:',
              '', '| metric | max abs difference | value (first image) |', '|---|---|---|']
    for key in KEYS:
        lines.append(f'| {key} | {max_diff[key]:.3g} | {rows[0][7][key]:.4f} |')
    report = '\n'.join(lines)
    publish('Metrics', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
