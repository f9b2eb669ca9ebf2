"""Back-ends side by side: Mask R-CNN, HoVer-Net and KG Instance per ResNet depth.

1. **Train step and inference**, for each ``--depths``: every back-end of :data:`BACKENDS`
   (with ``--official`` also KG Instance at the paper's widths) built with the same ResNet
   backbone and random weights. Train step: one batch of 2 ``--size``² images with 30
   elliptical nuclei of 12–40 px each (random pixels), SGD. Inference: ``test_step`` of one
   ``--size`` px patch (the batch's first image). Each is run ``--warmup`` times, then
   ``--runs`` times, the back-ends of a depth taking turns in every round so that a change of
   load on the machine falls on all of them alike. Reported: the median wall seconds and the
   median CPU seconds (user + system time of this process, all threads: hardly changed when
   other jobs keep it waiting for the cores), each with its ratio to Mask R-CNN of the same
   depth in the same run. Random weights: an untrained HoVer-Net or KG Instance finds other
   numbers of nuclei or keypoint peaks than a trained one, so their post-processing time in
   inference is only indicative. Target: KG Instance (default widths) ≤ 2× the Mask R-CNN
   train step.
2. **HoVer-Net post-processing** (:func:`mmcyclic.models.hovernet.post_process.hovernet_label_map`)
   of one 1000×1000 image from synthetic NP/HV maps of ``--nuclei`` nuclei (discs of radius
   5–11 px placed without overlap, many touching; NP 0.9 inside, 0.05 outside, HV the exact
   targets, both with Gaussian noise): median wall and CPU seconds, and the peak of the memory
   numpy/OpenCV/scikit-image allocate through Python (tracemalloc), target ≤ 1 s. Also the
   per-tile path of inference (``HoVerNet.instances``: watershed, boxes, scores and one bool
   mask per nucleus) on the 16 overlapped 256² patches of the same image.

A back-end is one line of :data:`BACKENDS`: its name and its model config (a
``configs/_base_/models`` file per depth); the first is the baseline of the ratios.

    python benchmarks/bench_backends.py [--depths 18 50] [--size 256] [--runs 5] [--warmup 2]
        [--nuclei 500] [--official] [--no-doc]

Prints a markdown report and replaces the ``## Back-ends`` section of docs/benchmarks.md.
"""
import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mmcyclic  # noqa: E402,F401

from benchdoc import cpu_name, peak_mb, publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / 'configs' / '_base_' / 'models'

# name -> model config of a given ResNet depth; the first is the baseline of the ratios.
BACKENDS: Dict[str, Callable[[int], Path]] = {
    'Mask R-CNN': lambda depth: MODELS_DIR / f'mask_rcnn_r{depth}_fpn.py',
    'HoVer-Net': lambda depth: MODELS_DIR / f'hovernet_r{depth}.py',
    'KG Instance': lambda depth: MODELS_DIR / f'kg_instance_r{depth}.py',
}
# --official: KG Instance at the paper's widths, as this override of its model
# (configs/_base_/kg_instance.py, its header).
OFFICIAL_NAME = "KG Instance, paper's widths (7×7 heads)"
OFFICIAL = dict(neck=dict(channels=(64, 64, 256, 512, 1024), image_channels=64),
                kp_head=dict(head_kernel=7))

Timing = Tuple[float, float, object]  # median wall s, median CPU s, last result


def in_turns(fns: Dict[str, Callable[[], object]], runs: int, warmup: int) -> Dict[str, Timing]:
    """Median wall and CPU seconds of every function over ``runs`` rounds after ``warmup``
    rounds, and its last result; in each round every function runs once, in turn."""
    walls: Dict[str, List[float]] = {name: [] for name in fns}
    cpus: Dict[str, List[float]] = {name: [] for name in fns}
    results: Dict[str, object] = {}
    for round_index in range(warmup + runs):
        for name, fn in fns.items():
            start, cpu_start = time.perf_counter(), sum(os.times()[:2])
            results[name] = fn()
            if round_index >= warmup:
                walls[name].append(time.perf_counter() - start)
                cpus[name].append(sum(os.times()[:2]) - cpu_start)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]), results[name])
            for name in fns}


def build(config: Path, override: Optional[dict] = None):
    """A randomly initialised model of ``config`` (its ``model``, merged with ``override``)."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(config))
    if override:
        cfg.merge_from_dict(dict(model=override))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def nuclei_batch(size: int, count: int = 30, images: int = 2) -> dict:
    """Packed inputs of ``images`` random images with ``count`` elliptical nuclei each."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    rng = np.random.default_rng(1)
    inputs, samples = [], []
    rows, cols = np.mgrid[:size, :size]
    for _ in range(images):
        masks, boxes = [], []
        for _ in range(count):
            half = rng.uniform(6, 20, size=2)
            centre = rng.uniform(half, size - half)
            mask = ((cols - centre[0]) / half[0])**2 + ((rows - centre[1]) / half[1])**2 <= 1
            ys, xs = np.nonzero(mask)
            masks.append(mask.astype(np.uint8))
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                             pad_shape=(size, size), scale_factor=(1.0, 1.0),
                                             batch_input_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.zeros(count, dtype=torch.long),
            masks=BitmapMasks(np.stack(masks), size, size))
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, size, size), dtype=np.uint8)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def train_step(model, data: dict) -> Callable[[], object]:
    from mmengine.optim import OptimWrapper
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    return lambda: model.train_step(copy.deepcopy(data), optim)


def inference(model, data: dict) -> Callable[[], object]:
    model.eval()
    one = dict(inputs=data['inputs'][:1], data_samples=data['data_samples'][:1])

    def step():
        with torch.no_grad():
            return model.test_step(copy.deepcopy(one))
    return step


def backend_rows(args: argparse.Namespace) -> List[str]:
    data = nuclei_batch(args.size)
    rows = []
    for depth in args.depths:
        models = {name: build(config(depth)) for name, config in BACKENDS.items()}
        if args.official:
            models[OFFICIAL_NAME] = build(BACKENDS['KG Instance'](depth), OFFICIAL)
        train = in_turns({name: train_step(model, data) for name, model in models.items()},
                         args.runs, args.warmup)
        infer = in_turns({name: inference(model, data) for name, model in models.items()},
                         args.runs, args.warmup)
        baseline = next(iter(models))
        for name in models:
            cells = []
            for timing in (train, infer):
                (wall, cpu, _), (base_wall, base_cpu, _) = timing[name], timing[baseline]
                cells += [f'{wall:.3f}', f'{wall / base_wall:.2f}',
                          f'{cpu:.3f}', f'{cpu / base_cpu:.2f}']
            rows.append(f'| {name} R{depth} | ' + ' | '.join(cells) + ' |')
        del models, train, infer
    return rows


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


def post_processing_rows(args: argparse.Namespace) -> List[str]:
    from mmcyclic.datasets.patches import patch_origins
    from mmcyclic.models.hovernet.post_process import hovernet_label_map
    prob, hv, placed = synthetic_maps(1000, args.nuclei)
    model = build(BACKENDS['HoVer-Net'](18)).eval()
    tiles = [dict(np=torch.from_numpy(prob[y:y + 256, x:x + 256])[None],
                  hv=torch.from_numpy(hv[:, y:y + 256, x:x + 256])[None])
             for x, y in patch_origins(1000, 1000, 256)]
    steps = {
        f'watershed, whole 1000×1000 image ({placed} nuclei)':
            (lambda: hovernet_label_map(prob, hv), lambda labels: str(int(labels.max()))),
        f'`HoVerNet.instances` on its {len(tiles)} patches of 256² (+ boxes, scores, masks)':
            (lambda: sum(len(model.instances(maps)) for maps in tiles),
             lambda found: f'{found} (with overlaps)'),
    }
    timings = in_turns({name: fn for name, (fn, _) in steps.items()}, args.runs, 1)
    rows = []
    for name, (fn, count) in steps.items():
        wall, cpu, out = timings[name]
        rows.append(f'| {name} | {wall:.3f} | {cpu:.3f} | {peak_mb(fn):.0f} | {count(out)} |')
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depths', type=int, nargs='+', default=[18, 50], choices=[18, 50])
    parser.add_argument('--size', type=int, default=256, help='side of the train/inference patch')
    parser.add_argument('--nuclei', type=int, default=500,
                        help='nuclei of the 1000×1000 post-processing image')
    parser.add_argument('--runs', type=int, default=5, help='timed runs (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs before them')
    parser.add_argument('--official', action='store_true',
                        help="also time KG Instance at the paper's widths (7×7 heads; slow)")
    parser.add_argument('--no-doc', action='store_true')
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    steps = backend_rows(args)
    post = post_processing_rows(args)
    load_after = os.getloadavg()[0]
    command = (f'python benchmarks/bench_backends.py --depths {" ".join(map(str, args.depths))} '
               f'--size {args.size} --nuclei {args.nuclei} --runs {args.runs} '
               f'--warmup {args.warmup}' + (' --official' if args.official else ''))
    size = f'{args.size}²'
    report = (
        f'Command: `{command}` ({cpu_name()}, {torch.get_num_threads()} torch threads; medians '
        f'of {args.runs} runs after {args.warmup} warm-up runs, the back-ends of a depth taking '
        f'turns; 1-minute load average {load_before:.1f} before, {load_after:.1f} after: other '
        'jobs on the machine slow the wall seconds, the CPU seconds (user + system time of the '
        'process) much less).\n\n'
        f'**Train step and inference**, random weights. Train step: batch 2×{size}, 30 '
        'elliptical nuclei of 12–40 px per image, random pixels, SGD. Inference: `test_step` on '
        f'one {args.size} px patch. Ratios against Mask R-CNN with the same backbone:\n\n'
        '| back-end | train wall s | ratio | train CPU s | ratio | inference wall s / patch '
        '| ratio | inference CPU s / patch | ratio |\n|---|---|---|---|---|---|---|---|---|\n'
        + '\n'.join(steps) + '\n\n'
        'Target: KG Instance (default widths) ≤ 2× the Mask R-CNN train step with the same '
        "backbone. KG Instance's extra cost is its full- and half-resolution maps (decoder and "
        'heads at strides 1 and 2) and the keypoint targets; its inference adds Hough voting and '
        "the grouping (numpy), HoVer-Net's the watershed, both growing with the nuclei found "
        '(few with random weights).\n\n'
        '**HoVer-Net post-processing** (synthetic NP/HV maps; memory = peak allocated through '
        'Python, tracemalloc; target ≤ 1 s for the whole image):\n\n'
        '| step | median wall s | median CPU s | peak MiB | instances |\n|---|---|---|---|---|\n'
        + '\n'.join(post) + '\n')
    publish('Back-ends', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
