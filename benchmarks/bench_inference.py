"""Benchmark tiled inference against one forward pass over the whole image.

For square crops of ``--sizes`` pixels (default 500, 1000, 2000) of one
H&E image as large as the largest size, :meth:`mmcyclic.apis.NucleiSegmenter.segment` runs

* tiled, for each of ``--tile-sizes`` (overlap ``--overlap``), and
* untiled (sizes up to ``--untiled-max``): ``tile_size`` = the image side,
  i.e. one forward pass. As for
  any tile, ``NucleiSegmenter`` scales the config's per-image caps (RPN boxes
  and proposals, detections) with the area, so both modes may find every
  nucleus, and pastes each mask into its box only.

Each (mode, size) runs in a fresh subprocess: ``--runs`` timed runs (median
reported) and the peak resident memory of the process during them (Linux
``VmHWM``, reset just before the first run), also as the increase over the
resident memory before the first run (model loaded, image in memory).
Nuclei found and, with ground truth, PQ/AJI against it are reported too.

Image: a 1000×1000 image repeated 2×2 (3×3 for sizes above 2000, ...), so all
sizes have the same density of nuclei: ``--source synthetic`` (default) draws a synthetic H&E
image with exact ground truth (the demo model was trained on such images);
``--source monuseg`` takes a real MoNuSeg image and its annotation.

Usage::

    python benchmarks/bench_inference.py [--checkpoint work_dirs/demo_try/epoch_12.pth]
        [--source synthetic] [--runs 3] [--no-doc]

Prints a markdown report and replaces the ``## Inference`` section of
``docs/benchmarks.md`` (other sections are kept).
"""
import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec('mmcyclic') is None:
    sys.path.insert(0, str(ROOT))

from mmcyclic.evaluation.stitching import Window  # noqa: E402

from benchdoc import DOC, cpu_name, publish  # noqa: E402

CONFIG = ROOT / 'configs' / 'mask_rcnn_r18_synthetic.py'
DEMO_CHECKPOINT = ROOT / 'work_dirs' / 'demo_try' / 'epoch_12.pth'
MONUSEG = ROOT.parent / 'shared' / 'data' / 'monuseg' / 'train'
MONUSEG_ID = 'TCGA-18-5592-01Z-00-DX1'


def _status_mb(field: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak) resident memory of this process, in MiB."""
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field} not in /proc/self/status (Linux only)')


def _cpu_seconds() -> float:
    """User + system CPU time of this process: unlike wall time, hardly changed by other jobs
    waiting for the same cores."""
    times = os.times()
    return times.user + times.system


def reset_peak_rss() -> None:
    """Start the peak (VmHWM) afresh at the current RSS (Linux >= 4.0).

    ``getrusage``'s ``ru_maxrss`` cannot be used: it survives ``execve``, so a
    subprocess would report its parent's peak.
    """
    with open('/proc/self/clear_refs', 'w') as handle:
        handle.write('5')


def make_image(source: str, folder: Path, size: int) -> int:
    """Write an image of at least ``size`` px and its ground truth as .npy files into ``folder``.

    A 1000x1000 image is repeated n x n (n >= 2), so every crop has about the same
    density of nuclei and the rows differ by image size only, not by content.

    Returns:
        The number of ground-truth nuclei in the whole image.
    """
    if source == 'synthetic':
        from mmcyclic.datasets.synthetic import generate_synthetic_he
        tile, tile_gt = generate_synthetic_he(1, size=1000, seed=0)[0]
    else:
        from mmcyclic.datasets.io import read_image, read_label_map
        tile = read_image(MONUSEG / 'images' / f'{MONUSEG_ID}.tif')
        tile_gt = read_label_map(MONUSEG / 'instance_masks' / f'{MONUSEG_ID}.png')
    repeats = max(2, -(-size // tile.shape[0]))
    image = np.tile(tile, (repeats, repeats, 1))
    offsets = np.arange(repeats**2).reshape(repeats, repeats) * int(tile_gt.max())
    gt = np.block([[np.where(tile_gt > 0, tile_gt + offsets[r, c], 0) for c in range(repeats)]
                   for r in range(repeats)])
    np.save(folder / 'image.npy', image)
    np.save(folder / 'gt.npy', gt.astype(np.int32))
    return len(np.unique(gt)) - 1


def worker(args: argparse.Namespace) -> None:
    """One (mode, size) measurement; prints one JSON line."""
    from mmcyclic.apis import NucleiSegmenter
    image = np.ascontiguousarray(np.load(Path(args.folder) / 'image.npy')[:args.size, :args.size])
    tile_size = args.tile_size or args.size  # 0 = untiled: one tile covers the image
    segmenter = NucleiSegmenter(args.config, args.checkpoint, tile_size=tile_size,
                                overlap=min(args.overlap, tile_size - 1),
                                batch_size=args.batch_size)
    reset_peak_rss()
    before = _status_mb('VmRSS')
    times, cpu_times = [], []
    result = None
    for _ in range(args.runs):
        # The previous run's output (a full-size label map, polygons) must not count in the
        # peak of this one: a user segments an image, saves it, then goes on.
        del result
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        result = segmenter.segment(image)
        times.append(time.perf_counter() - start)
        cpu_times.append(_cpu_seconds() - cpu_start)
    np.save(Path(args.folder) / f'pred_{args.tile_size}_{args.size}.npy', result.label_map)
    print(json.dumps(dict(times=times, cpu_times=cpu_times, peak_mb=_status_mb('VmHWM'),
                          base_mb=before, nuclei=len(result))))


def measure(args: argparse.Namespace, folder: Path, tile_size: int, size: int) -> Dict:
    command = [sys.executable, __file__, '--worker', '--folder', str(folder), '--size', str(size),
               '--tile-size', str(tile_size), '--overlap', str(args.overlap), '--batch-size',
               str(args.batch_size), '--runs', str(args.runs), '--config', str(args.config)]
    if args.checkpoint:
        command += ['--checkpoint', str(args.checkpoint)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return dict(error=(done.stderr.strip().splitlines() or ['no output'])[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def quality(folder: Path, tile_size: int, size: int) -> Dict[str, float]:
    from skimage.segmentation import relabel_sequential

    from mmcyclic.evaluation import nuclei_metrics
    gt = relabel_sequential(np.load(folder / 'gt.npy')[:size, :size])[0]
    pred = np.load(folder / f'pred_{tile_size}_{size}.npy')
    return nuclei_metrics(gt, pred)


def report(args: argparse.Namespace, rows: List[Dict], load: List[float], num_gt: int) -> str:
    import torch
    mode = lambda t: f'tiled {t}/{args.overlap}' if t else 'untiled'  # noqa: E731
    untiled = {r['size']: r for r in rows if r['tile_size'] == 0 and 'times' in r}
    lines = [
        f'Command: `python benchmarks/bench_inference.py --source {args.source} --runs {args.runs} '
        f'--sizes {" ".join(map(str, args.sizes))} --tile-sizes '
        f'{" ".join(map(str, args.tile_sizes))} --overlap {args.overlap} '
        f'--batch-size {args.batch_size} --untiled-max {args.untiled_max}`',
        f'Machine: {cpu_name()}, {os.cpu_count()} cores shared with other jobs (1-min load '
        f'average {load[0]:.1f} at the start, {load[1]:.1f} at the end); CPU only, torch '
        f'{torch.__version__} with {torch.get_num_threads()} threads; Python '
        f'{platform.python_version()}.',
        f'Model: `{Path(args.config).relative_to(ROOT)}` with '
        + (f'`{Path(args.checkpoint).relative_to(ROOT)}` (the demo model, trained on synthetic '
           'H&E)' if args.checkpoint else 'random weights') + '; score threshold 0.5.',
        'Image: ' + ('a synthetic 1000×1000 H&E image (seed 0, exact ground truth)'
                     if args.source == 'synthetic' else f'real MoNuSeg `{MONUSEG_ID}` (1000×1000)')
        + f' repeated into {max(args.sizes)} px or more ({num_gt} nuclei); sizes are its '
        'top-left crops, passed '
        'as an in-memory array. PQ/AJI: against the ground truth of the crop.',
        f'Time: median of {args.runs} runs of `NucleiSegmenter.segment` (tiles, model, stitching, '
        'polygons) in one process per row: wall time, and CPU time (user + system, all threads), '
        'which other jobs on the shared cores inflate much less. Ratios are to the untiled row of '
        'the same size. Peak memory: peak RSS (`VmHWM`, reset before the '
        'first run) of that process; Δ = its increase over the RSS before the first run '
        '(model loaded, image in memory).',
        '',
        '| size | mode | tiles (pixels ×) | wall (s) | ratio | CPU (s) | ratio | peak RSS (MB) '
        '| Δ peak (MB) | nuclei found | PQ vs GT | AJI vs GT |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for row in rows:
        size, tile_size = row['size'], row['tile_size']
        windows = row_windows(row, args.overlap)
        pixels = sum((y1 - y0) * (x1 - x0) for y0, x0, y1, x1 in windows) / size**2
        tiles = f'{len(windows)} × {fitted_side(windows)} px ({pixels:.2f}×)'
        if 'times' not in row:
            lines.append(f'| {size} | {mode(tile_size)} | {tiles} | failed: {row["error"]} '
                         '| | | | | | | | |')
            continue
        cells = []
        for key in ('times', 'cpu_times'):
            median = statistics.median(row[key])
            reference = untiled[size][key] if size in untiled and tile_size else None
            cells += [f'{median:.1f}',
                      f'{median / statistics.median(reference):.2f}×' if reference else '']
        lines.append(
            f'| {size} | {mode(tile_size)} | {tiles} | {" | ".join(cells)} '
            f'| {row["peak_mb"]:.0f} | {row["peak_mb"] - row["base_mb"]:.0f} | {row["nuclei"]} '
            f'| {row["pq"]:.3f} | {row["aji"]:.3f} |')
    return '\n'.join(lines + [''] + targets(args, rows))


def row_windows(row: Dict, overlap: int) -> List[Window]:
    """The tiles the segmenter cuts for this row (untiled: one tile; the grid is fitted)."""
    from mmcyclic.apis import tile_windows
    side = row['tile_size'] or row['size']
    return tile_windows(row['size'], row['size'], side, min(overlap, side - 1))


def fitted_side(windows: List[Window]) -> int:
    """Side of the (square, equal) tiles of a fitted grid."""
    y0, _, y1, _ = windows[0]
    return y1 - y0


def targets(args: argparse.Namespace, rows: List[Dict]) -> List[str]:
    """Say whether the targets are met, from the rows (so a rerun keeps the text true)."""
    from mmengine.config import Config
    test_cfg = Config.fromfile(args.config).model.test_cfg
    done = [r for r in rows if 'times' in r]
    # The time target is judged at the largest size that has an untiled row.
    untiled = max((r for r in done if r['tile_size'] == 0), key=lambda r: r['size'], default=None)
    largest = untiled['size'] if untiled else None
    lines = ['Targets (tiles column: tile count × fitted tile side, and pixels processed per '
             'image pixel):']
    for tile_size in args.tile_sizes:
        mine = sorted((r for r in done if r['tile_size'] == tile_size), key=lambda r: r['size'])
        if not mine:
            continue
        growth = [f'{r["peak_mb"] - r["base_mb"]:.0f}' for r in mine]
        sides = [fitted_side(row_windows(r, args.overlap)) for r in mine]
        # Memory is bounded by the tile, so compare sizes cut into the same tile side.
        same = [r for r, side in zip(mine, sides) if side == sides[-1]]
        deltas = [r['peak_mb'] - r['base_mb'] for r in same]
        text = (f'* tiled {tile_size}/{args.overlap}: Δ peak ' + ' / '.join(growth)
                + f' MB at {" / ".join(str(r["size"]) for r in mine)} px (tiles of '
                + ' / '.join(map(str, sides)) + ' px); ')
        if len(same) > 1:
            flat = max(deltas) <= 1.5 * min(deltas)
            text += (f'with the same {sides[-1]} px tiles at '
                     f'{" / ".join(str(r["size"]) for r in same)} px: '
                     + ('flat (max ≤ 1.5 × min): **met**' if flat else '**not flat**'))
        else:
            text += (f'only {same[0]["size"]} px is cut into {sides[-1]} px tiles: '
                     'flatness not measured')
        at_largest = [r for r in mine if r['size'] == largest]
        if untiled and at_largest:
            wall, cpu = (statistics.median(at_largest[0][key]) / statistics.median(untiled[key])
                         for key in ('times', 'cpu_times'))
            met = max(wall, cpu) <= 1.25
            text += (f'; time at {largest} px {wall:.2f}× (wall) and {cpu:.2f}× (CPU) untiled '
                     '(target ≤ 1.25×): ' + ('**met**' if met else '**missed**'))
        lines.append(text + '.')
    lines += [
        f'* Like for like: every pass, tiled or not, has the config\'s per-image caps '
        f'({test_cfg.rpn.nms_pre} RPN boxes per level, {test_cfg.rpn.max_per_img} proposals, '
        f'{test_cfg.rcnn.max_per_img} detections for a 256 px patch) scaled with its area, and '
        'each mask is pasted into its box only (docs/inference.md).',
        '* What tiling adds: the overlap makes the model see the pixels counted in the tiles '
        'column, and each tile pays the per-image costs (RPN NMS, box head) again.',
        '* Memory: see docs/inference.md, section Memory.',
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=str(CONFIG))
    parser.add_argument('--checkpoint',
                        default=str(DEMO_CHECKPOINT) if DEMO_CHECKPOINT.is_file() else None,
                        help='default: the demo checkpoint if present, else random weights')
    parser.add_argument('--source', choices=['synthetic', 'monuseg'], default='synthetic')
    parser.add_argument('--sizes', type=int, nargs='+', default=[500, 1000, 2000])
    parser.add_argument('--tile-sizes', type=int, nargs='+', default=[256, 512, 1024])
    parser.add_argument('--overlap', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--untiled-max', type=int, default=2000,
                        help='no untiled pass above this size (it needs ~1 GB per 1000² px)')
    parser.add_argument('--no-doc', action='store_true', help=f'do not update {DOC}')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--folder', help=argparse.SUPPRESS)
    parser.add_argument('--size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--tile-size', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        num_gt = make_image(args.source, folder, max(args.sizes))
        rows = []
        for size in args.sizes:
            untiled = [0] if size <= args.untiled_max else []
            for tile_size in [*untiled, *args.tile_sizes]:
                row = dict(size=size, tile_size=tile_size, **measure(args, folder, tile_size, size))
                if 'times' in row:
                    row.update(quality(folder, tile_size, size))
                print(json.dumps({k: v for k, v in row.items()
                                  if k in ('size', 'tile_size', 'times', 'cpu_times', 'peak_mb',
                                           'base_mb', 'nuclei', 'pq', 'aji', 'error')}),
                      file=sys.stderr)
                rows.append(row)
    load.append(os.getloadavg()[0])
    text = report(args, rows, load, num_gt)
    publish('Inference', text, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
