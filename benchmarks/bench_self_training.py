"""One student training step on two label sets vs a plain Mask R-CNN step.

Both steps see the same batch (2 images, the same instances): the student
computes ``α·L(M) + (1−α)·L(M')`` with one backbone pass; the baseline is
mmdet's MaskRCNN on all instances as one set. The student is also timed with
each missing-label remedy of configs/_base_/weak_supervision.py switched on
(the stain prior reads the batch's pixels: here random ones). Reports the
median of ``--runs`` timed steps after warm-up and the ratios (target ≤ 1.3×),
and writes the ``## Self-training step`` section of docs/benchmarks.md.

    python benchmarks/bench_self_training.py [--depth 50] [--size 256] [--runs 7]
"""
import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mmcyclic  # noqa: E402,F401

from benchdoc import publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# Student variants: the model's train_cfg changes of each missing-label remedy.
REMEDIES = {
    'student, α·L(M)+(1−α)·L(M′), one backbone pass': {},
    '+ stain prior (ignore_unlabelled_stain_blobs)': dict(
        ignore_unlabelled_stain_blobs=dict(min_area=30, max_area=2000)),
    '+ background recalibration (ConfidentNegativeIgnoringSampler)': dict(
        rcnn=dict(sampler=dict(type='ConfidentNegativeIgnoringSampler', score_thr=0.5))),
}


def build(model_type: str, depth: int, train_cfg: Optional[dict] = None):
    init_default_scope('mmdet')
    base = 'mask_rcnn_r50_fpn.py' if depth == 50 else 'mask_rcnn_r18_fpn.py'
    cfg = Config.fromfile(str(ROOT / 'configs' / '_base_' / 'models' / base)).model
    cfg.type = model_type
    if model_type == 'LabelSetMaskRCNN':
        cfg.label_set_weights = (0.66, 0.34)
        # The default rule: each set ignores the other set's instances as negatives.
        cfg.train_cfg.rpn.assigner.type = 'MaxIoUAssignerWithIgnoredInstances'
        cfg.train_cfg.rcnn.assigner.type = 'MaxIoUAssignerWithIgnoredInstances'
        cfg.train_cfg.merge(train_cfg or {})
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def batch(size: int, labels_as_sets: bool):
    torch.manual_seed(1)
    data = demo_mm_inputs(batch_size=2, image_shapes=[(3, size, size)] * 2, num_items=[30, 30],
                          num_classes=2, with_mask=True)
    for sample in data['data_samples']:
        labels = sample.gt_instances.labels
        labels[:] = (torch.arange(len(labels)) % 2) if labels_as_sets else 0
    return data


def time_steps(model, data, runs: int) -> float:
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    for _ in range(2):
        model.train_step(copy.deepcopy(data), optim)
    times = []
    for _ in range(runs):
        step_data = copy.deepcopy(data)
        start = time.perf_counter()
        model.train_step(step_data, optim)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=50, choices=[18, 50])
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--no-doc', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    plain = time_steps(build('MaskRCNN', args.depth), batch(args.size, False), args.runs)
    rows = [f'| plain Mask R-CNN R{args.depth} (all instances, one set) | {plain:.3f} | 1.00 |']
    for name, train_cfg in REMEDIES.items():
        seconds = time_steps(build('LabelSetMaskRCNN', args.depth, train_cfg),
                             batch(args.size, True), args.runs)
        rows.append(f'| {name} | {seconds:.3f} | {seconds / plain:.2f} |')
    report = (
        f'Command: `python benchmarks/bench_self_training.py --depth {args.depth} '
        f'--size {args.size} --runs {args.runs}` (CPU, {torch.get_num_threads()} threads; '
        f'median of {args.runs} steps after 2 warm-up steps; batch 2×{args.size}², '
        '30 instances per image, random pixels).\n\n'
        '| step | median s | ratio |\n|---|---|---|\n' + '\n'.join(rows) + '\n\n'
        'Target ≤ 1.3×. The extra cost is the second evaluation of the RPN and RoI heads '
        '(sampling, RoIAlign, mask head) for M′; backbone and FPN run once. The stain prior '
        'adds a hematoxylin map and its components per image; background recalibration one '
        'more box-head pass over the negative RoIs.')
    publish('Self-training step', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
