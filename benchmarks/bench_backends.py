"""Back-ends side by side: HoVer-Net post-processing, and a training step against Mask R-CNN.

1. **Post-processing** (:func:`mmcyclic.models.hovernet.post_process.hovernet_label_map`) of
   one 1000×1000 image from synthetic NP/HV maps of ``--nuclei`` nuclei (discs of radius 5–11
   px placed without overlap, many touching; NP 0.9 inside, 0.05 outside, HV the exact
   targets, both with Gaussian noise): the median time of ``--runs`` runs and the peak of the
   memory numpy/OpenCV/scikit-image allocate through Python (tracemalloc), target ≤ 1 s. Also
   the per-tile path of inference (``HoVerNet.instances``: watershed, boxes, scores and one
   bool mask per nucleus) on the 16 overlapped 256² patches of the same image.
2. **Train step**: median time of ``--runs`` steps (after 2 warm-up steps) of each back-end in
   :data:`BACKENDS` with the same ResNet backbone, for each ``--depths``, on one batch of 2×256²
   images with 30 instances each; ratios against the first back-end (Mask R-CNN) of the same
   depth. A back-end is one line of :data:`BACKENDS`: its name and its model config (a
   ``configs/_base_/models`` file per depth).

    python benchmarks/bench_backends.py [--depths 18 50] [--runs 5] [--no-doc]

Prints a markdown report and replaces the ``## Back-ends`` section of docs/benchmarks.md.
"""
import argparse
import copy
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mmcyclic  # noqa: E402,F401

from benchdoc import cpu_name, publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / 'configs' / '_base_' / 'models'

# name -> model config of a given ResNet depth; the first is the baseline of the ratios.
BACKENDS: Dict[str, Callable[[int], Path]] = {
    'Mask R-CNN': lambda depth: MODELS_DIR / f'mask_rcnn_r{depth}_fpn.py',
    'HoVer-Net': lambda depth: MODELS_DIR / f'hovernet_r{depth}.py',
}


def synthetic_maps(size: int, nuclei: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, int]:
    """NP probability ``(size, size)`` and HV ``(2, size, size)`` of about ``nuclei`` discs."""
    from mmcyclic.models.hovernet.targets import hv_from_id_map
    rng = np.random.default_rng(seed)
    ids = np.zeros((size, size), np.int64)
    rows, cols = np.mgrid[:size, :size]
    placed = 0
    for _ in range(nuclei * 20):
        if placed == nuclei:
            break
        radius = rng.integers(5, 12)
        cy, cx = rng.integers(radius, size - radius, 2)
        box = (slice(cy - radius, cy + radius + 1), slice(cx - radius, cx + radius + 1))
        disc = (rows[box] - cy)**2 + (cols[box] - cx)**2 <= radius**2
        if (ids[box][disc] > 0).any():
            continue
        placed += 1
        ids[box][disc] = placed
    hv = hv_from_id_map(torch.from_numpy(ids), placed).numpy()
    hv += rng.normal(0, 0.05, hv.shape).astype(np.float32)
    prob = np.where(ids > 0, 0.9, 0.05) + rng.normal(0, 0.05, ids.shape)
    return np.clip(prob, 0, 1).astype(np.float32), hv, placed


def timed(fn: Callable, runs: int) -> Tuple[float, float, object]:
    """Median wall and CPU (user + system, all threads) seconds of ``runs`` calls, and the
    last result. CPU time hardly changes when other jobs make this one wait for the cores;
    wall time does."""
    walls, cpus, out = [], [], None
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), sum(os.times()[:2])
        out = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(sum(os.times()[:2]) - cpu_start)
    return statistics.median(walls), statistics.median(cpus), out


def peak_mb(fn: Callable) -> float:
    """Peak memory allocated through Python's allocators while ``fn`` runs, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def build(config: Path):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    return model


def post_processing_rows(args: argparse.Namespace) -> list:
    from mmcyclic.datasets.patches import patch_origins
    from mmcyclic.models.hovernet.post_process import hovernet_label_map
    prob, hv, placed = synthetic_maps(1000, args.nuclei)
    seconds, _, labels = timed(lambda: hovernet_label_map(prob, hv), args.runs)
    memory = peak_mb(lambda: hovernet_label_map(prob, hv))
    rows = [f'| watershed, whole 1000×1000 image ({placed} nuclei) | {seconds:.3f} | '
            f'{memory:.0f} | {int(labels.max())} |']

    model = build(BACKENDS['HoVer-Net'](18)).eval()
    tiles = [dict(np=torch.from_numpy(prob[y:y + 256, x:x + 256])[None],
                  hv=torch.from_numpy(hv[:, y:y + 256, x:x + 256])[None])
             for x, y in patch_origins(1000, 1000, 256)]

    def per_tile():
        return sum(len(model.instances(maps)) for maps in tiles)

    seconds, _, found = timed(per_tile, args.runs)
    memory = peak_mb(per_tile)
    rows.append(f'| `HoVerNet.instances` on its {len(tiles)} patches of 256² (+ boxes, scores, '
                f'masks) | {seconds:.3f} | {memory:.0f} | {found} (with overlaps) |')
    return rows


def time_steps(model, data: dict, runs: int) -> Tuple[float, float]:
    """Median wall and CPU seconds of a training step, after 2 warm-up steps."""
    from mmengine.optim import OptimWrapper
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    for _ in range(2):
        model.train_step(copy.deepcopy(data), optim)
    return timed(lambda: model.train_step(copy.deepcopy(data), optim), runs)[:2]


def train_step_rows(args: argparse.Namespace) -> list:
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(1)
    data = demo_mm_inputs(batch_size=2, image_shapes=[(3, args.size, args.size)] * 2,
                          num_items=[30, 30], num_classes=2, with_mask=True)
    for sample in data['data_samples']:  # one class, nucleus
        sample.gt_instances.labels.zero_()
    rows = []
    for depth in args.depths:
        baseline = None
        for name, config in BACKENDS.items():
            wall, cpu = time_steps(build(config(depth)).train(), data, args.runs)
            baseline = baseline or (wall, cpu)
            rows.append(f'| {name} R{depth} | {wall:.3f} | {wall / baseline[0]:.2f} | {cpu:.3f} | '
                        f'{cpu / baseline[1]:.2f} |')
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depths', type=int, nargs='+', default=[18, 50], choices=[18, 50])
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--nuclei', type=int, default=500)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--no-doc', action='store_true')
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    post = post_processing_rows(args)
    steps = train_step_rows(args)
    load_after = os.getloadavg()[0]
    command = (f'python benchmarks/bench_backends.py --depths {" ".join(map(str, args.depths))} '
               f'--size {args.size} --nuclei {args.nuclei} --runs {args.runs}')
    report = (
        f'Command: `{command}` ({cpu_name()}, {torch.get_num_threads()} torch threads; '
        f'medians of {args.runs} runs; 1-minute load average {load_before:.1f} before, '
        f'{load_after:.1f} after: other jobs on the machine slow every row alike, the ratios '
        'less than the seconds).\n\n'
        '**HoVer-Net post-processing** (synthetic NP/HV maps; memory = peak allocated through '
        'Python, tracemalloc; target ≤ 1 s for the whole image):\n\n'
        '| step | median s | peak MiB | instances |\n|---|---|---|---|\n' + '\n'.join(post)
        + '\n\n**Train step**, batch 2×{0}², 30 instances per image, random pixels, SGD; '
        'ratio against Mask R-CNN with the same backbone:\n\n'.format(args.size)
        + '| back-end | median wall s | ratio | median CPU s | ratio |\n|---|---|---|---|---|\n'
        + '\n'.join(steps) + '\n')
    publish('Back-ends', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
