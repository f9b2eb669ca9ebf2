"""KG Instance vs Mask R-CNN with the same backbone: one CPU train step and inference per patch.

Both models see the same batch: 2 images of ``--size``² with 30 nucleus-like
instances each (ellipses 12–40 px, random pixels). Reported: the median of
``--runs`` timed train steps after 2 warm-up steps, and the median
``test_step`` time of one ``--size`` px patch (randomly initialised weights:
an untrained KG Instance finds few keypoint peaks, a trained one more, so the
grouping time here is a lower bound), each as a ratio to Mask R-CNN in the same
run. Target: the default KG Instance train step ≤ 2× Mask R-CNN's.
Writes the ``## KG Instance`` section of docs/benchmarks.md.

    python benchmarks/bench_kg_instance.py [--depths 18 50] [--size 256] [--runs 5] [--official]
"""
import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, List

import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mmcyclic  # noqa: E402,F401

from benchdoc import cpu_name, publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / 'configs' / '_base_' / 'models'
DEPTH_NAMES = {18: 'r18', 50: 'r50'}
# The paper's widths (configs/_base_/models/kg_instance_r50.py, its header).
OFFICIAL = dict(neck=dict(channels=(64, 64, 256, 512, 1024), image_channels=64),
                kp_head=dict(in_channels=(64, 64, 256, 512), head_kernel=7),
                mask_roi_extractor=dict(out_channels=64), mask_head=dict(in_channels=64))


def build(kind: str, depth: int, official: bool = False):
    """A randomly initialised Mask R-CNN or KG Instance of the given ResNet depth."""
    init_default_scope('mmdet')
    name = 'mask_rcnn_{}_fpn.py' if kind == 'mask_rcnn' else 'kg_instance_{}.py'
    cfg = Config.fromfile(str(BASE / name.format(DEPTH_NAMES[depth])))
    if official:
        cfg.merge_from_dict(dict(model=OFFICIAL))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def nuclei_batch(size: int, count: int = 30, images: int = 2) -> dict:
    """Packed inputs of ``images`` random images with ``count`` elliptical nuclei each."""
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


def median_time(step: Callable[[], None], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step_time(model, data: dict, runs: int) -> float:
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    return median_time(lambda: model.train_step(copy.deepcopy(data), optim), runs)


def inference_time(model, data: dict, runs: int) -> float:
    model.eval()
    one = dict(inputs=data['inputs'][:1], data_samples=data['data_samples'][:1])
    with torch.no_grad():
        return median_time(lambda: model.test_step(copy.deepcopy(one)), runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depths', type=int, nargs='+', default=[18, 50], choices=[18, 50])
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--official', action='store_true',
                        help="also time the paper's widths (7x7 heads; slow)")
    parser.add_argument('--no-doc', action='store_true')
    args = parser.parse_args()
    data = nuclei_batch(args.size)
    rows: List[str] = []
    for depth in args.depths:
        baseline = build('mask_rcnn', depth)
        base_train = train_step_time(baseline, data, args.runs)
        base_infer = inference_time(baseline, data, args.runs)
        rows.append(f'| Mask R-CNN R{depth} | {base_train:.2f} | 1.00 | {base_infer:.2f} | 1.00 |')
        variants = [('KG Instance R{} (default widths)', False)]
        if args.official:
            variants.append(("KG Instance R{} (paper's widths, 7×7 heads)", True))
        for label, official in variants:
            model = build('kg_instance', depth, official)
            train = train_step_time(model, data, args.runs)
            infer = inference_time(model, data, args.runs)
            rows.append(f'| {label.format(depth)} | {train:.2f} | {train / base_train:.2f} | '
                        f'{infer:.2f} | {infer / base_infer:.2f} |')
    official = ' --official' if args.official else ''
    report = (
        f'Command: `python benchmarks/bench_kg_instance.py --depths '
        f'{" ".join(map(str, args.depths))} --size {args.size} --runs {args.runs}{official}` '
        f'({cpu_name()}, {torch.get_num_threads()} threads; medians of {args.runs} after 2 '
        f'warm-up runs; train step: batch 2×{args.size}², 30 elliptical nuclei of 12–40 px per '
        f'image; inference: `test_step` on one {args.size} px patch, random weights).\n\n'
        '| model | train step s | ratio | inference s / patch | ratio |\n|---|---|---|---|---|\n'
        + '\n'.join(rows) + '\n\n'
        'Target: KG Instance (default widths) ≤ 2× the Mask R-CNN train step with the same '
        "backbone. KG Instance's extra cost is its full- and half-resolution maps (decoder and "
        'heads at strides 1 and 2) and the keypoint targets; its inference adds Hough voting and '
        'the grouping (numpy), which grow with the number of keypoint peaks.')
    publish('KG Instance', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
