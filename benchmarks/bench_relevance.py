"""Benchmark relevance + seed recipe per 224 px tile against one forward+backward pass.

For each classifier (ResNet-50 with LRP, Swin-T with attention rollout; random
weights, 2 classes) on a batch of ``--batch`` 224x224 tiles of a real MoNuSeg
image (or synthetic H&E when the data are missing):

* **forward+backward**: eval-mode forward, cross-entropy on the logits,
  backward to every parameter (the cost of one training step without the
  optimizer update);
* **relevance+seeds**: the relevance maps of the batch, with the method's
  hooks/canonizers registered once beforehand (as in seed extraction), plus
  the :class:`~mmcyclic.seeds.SeedRecipe` on each map;
* for LRP also the same with zennit's own two-term ``ZPlus`` instead of
  :class:`~mmcyclic.relevance.rules.NonNegativeZPlus`.

Measurements are interleaved (forward+backward, then relevance, in each of
``--runs`` rounds after a warm-up round) so both see the same load on a shared
machine; the table gives the median seconds per tile and the median of the
per-round ratios to forward+backward (target <= 2).

Usage::

    python benchmarks/bench_relevance.py [--runs 5] [--batch 4] [--no-doc]

Prints a markdown report and replaces the ``## Relevance`` section of
``docs/benchmarks.md`` (other sections are kept).
"""
import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmcyclic.datasets.io import ImageReadError, read_image  # noqa: E402
from mmcyclic.relevance import LRP, AttentionRollout, BaseRelevance  # noqa: E402
from mmcyclic.seeds import SeedRecipe, load_classifier  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import DOC, cpu_name, publish  # noqa: E402

IMAGE = ROOT / 'data' / 'monuseg' / 'images' / 'TCGA-18-5592-01Z-00-DX1.png'
MODELS = {
    'ResNet-50 + LRP (EpsilonPlusFlat)': ('configs/_base_/models/classifier_r50.py',
                                          dict(avg_down=True), 'lrp'),
    'Swin-T + attention rollout': ('configs/_base_/models/classifier_swin_t.py', {}, 'rollout'),
}


def tiles_from_image(batch: int) -> torch.Tensor:
    """``batch`` 224 px RGB tiles (0..255) from a MoNuSeg image, or synthetic H&E."""
    try:
        image = read_image(IMAGE)
        source = IMAGE.name
    except ImageReadError:
        from mmcyclic.datasets.synthetic import generate_synthetic_he
        image = generate_synthetic_he(1, size=448)[0][0]
        source = 'synthetic H&E'
    crops = [image[y:y + 224, x:x + 224] for y in (0, 224) for x in (0, 224, 448)][:batch]
    print(f'tiles: {len(crops)} x 224 px from {source}', file=sys.stderr)
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()


def interleaved_times(fns: Dict[str, Callable[[], None]], runs: int) -> Dict[str, List[float]]:
    """Time every function once per round, ``runs`` rounds, after one warm-up round.

    Interleaving puts every measurement of a round under the same machine load,
    so per-round ratios stay meaningful on a shared machine.
    """
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for round_index in range(runs + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_index:  # round 0 is the warm-up (allocations, oneDNN kernels)
                times[name].append(time.perf_counter() - start)
    return times


def forward_backward(model: torch.nn.Module, inputs: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    logits = model(inputs, mode='tensor')
    F.cross_entropy(logits, torch.ones(len(inputs), dtype=torch.long)).backward()


def relevance_and_seeds(method: BaseRelevance, recipe: SeedRecipe, tiles: torch.Tensor) -> None:
    maps = method(tiles).numpy()
    images = tiles.permute(0, 2, 3, 1).numpy().astype(np.uint8)
    for index, relevance in enumerate(maps):
        recipe(relevance, key=index, image=images[index] if recipe.needs_image else None)


def bench_model(name: str, config: str, backbone: dict, kind: str, tiles: torch.Tensor,
                runs: int) -> List[Dict[str, object]]:
    torch.manual_seed(0)
    cfg = Config.fromfile(str(ROOT / config))
    cfg.model.backbone.update(backbone)
    model = load_classifier(cfg).eval()
    recipe = SeedRecipe()
    n = len(tiles)
    if kind == 'lrp':
        methods = {'relevance+seeds': LRP(model),
                   "relevance+seeds with zennit's two-term ZPlus": LRP(model, fast_zplus=False)}
    else:
        methods = {'relevance+seeds': AttentionRollout(model)}
    inputs = methods['relevance+seeds'].normalise(tiles)
    # A separate copy for training passes: the relevance method's hooks and
    # canonizers stay on `model` while the two are timed in turns.
    trainable = copy.deepcopy(model)
    fns = {'forward+backward': lambda: forward_backward(trainable, inputs)}
    rows = []
    for label, method in methods.items():
        with method.attached():
            times = interleaved_times(
                {**fns, label: lambda m=method: relevance_and_seeds(m, recipe, tiles)}, runs)
        reference = statistics.median(times['forward+backward']) / n
        if not rows:
            rows.append({'model': name, 'what': 'forward+backward', 'per_tile': reference,
                         'ratio': 1.0})
        ratios = [t / r for t, r in zip(times[label], times['forward+backward'])]
        rows.append({'model': name, 'what': label, 'per_tile': statistics.median(times[label]) / n,
                     'ratio': statistics.median(ratios)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=5, help='timed rounds (>= 5)')
    parser.add_argument('--batch', type=int, default=4, help='tiles per batch')
    parser.add_argument('--no-doc', action='store_true', help=f'do not update {DOC}')
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    tiles = tiles_from_image(args.batch)
    rows = []
    for name, (config, backbone, kind) in MODELS.items():
        rows += bench_model(name, config, backbone, kind, tiles, args.runs)
        print(f'{name}: done', file=sys.stderr)
    load_end = os.getloadavg()[0]
    table = ['| classifier | measured | s per 224 px tile | ratio to forward+backward |',
             '|---|---|---|---|']
    table += [f"| {r['model']} | {r['what']} | {r['per_tile']:.3f} | {r['ratio']:.2f}x |"
              for r in rows]
    report = '\n'.join([
        f'Command: `python benchmarks/bench_relevance.py --runs {args.runs} --batch {args.batch}`',
        f'Machine: {cpu_name()}, {os.cpu_count()} cores shared with other jobs; torch '
        f'{torch.__version__} on CPU, {torch.get_num_threads()} threads; 1-min load average '
        f'{load_start:.2f} at the start, {load_end:.2f} at the end.',
        f'Batch of {len(tiles)} tiles of 224x224 from a MoNuSeg training image; random weights, '
        f'2 classes; {args.runs} interleaved rounds after a warm-up round, medians (the ratio '
        'is the median of per-round ratios). forward+backward = eval-mode forward, cross-entropy, '
        'backward to all parameters. relevance+seeds = relevance maps of the batch (hooks and '
        'canonizers registered once, as `extract_seed_set` does) + the default `SeedRecipe()` '
        f'on each map (outline: {SeedRecipe().config.outline}). '
        'Target: ratio <= 2.',
        '',
        *table,
    ])
    publish('Relevance', report, write_doc=not args.no_doc)


if __name__ == '__main__':
    main()
