"""Write docs/reproduction.md and its plots from the work dirs of `make reproduce` alone.

    python scripts/experiments/reproduction_page.py [--out work_dirs/reproduce] \
        [--page docs/reproduction.md] [--images docs/images]

No number on the page is typed by hand: the paper's values are quoted from its tables
(PAPER below, with the table they come from), ours are read from the runs' metrics files
(``test/metrics.json``, ``phase_tests/``, ``summary.json``, the budget runs' scalars). A row
whose runs have not finished says so. Verdicts (:func:`verdict`): an ordering is
*reproduced* when our means are in the paper's order by more than the spread (the root of
the summed variances of the two rows over training seeds), *not reproduced* when they are in
the other order by more than that, and *inconclusive* otherwise.
"""
import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce import CLASSIFIER_BUDGETS, K_VALUES, MODES, rows  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# The paper's numbers (Zhou et al., TMI 2023), by table. Mask R-CNN MoNuSeg "AJI" equals
# Dice/(2 - Dice) + 0.001-0.005 (the official code's foreground IoU): compare it with our
# legacy/aji. HoVer-Net rows (Table VII) are instance AJI.
PAPER = dict(
    t1_hovernet=dict(full=dict(dice=0.8215, aji=0.6044), cl=dict(dice=0.7922, aji=0.6059),
                     source='Table VII, HoVer-Net (reimp.) and CL-HoVer-Net, MoNu'),
    t1_mask_rcnn_r50=dict(full=dict(dice=0.7705, aji=0.6302), cl=dict(dice=0.7649, aji=0.6227),
                          source='Table II, Mask R-CNN R50 ("AJI" = foreground IoU)'),
    t4=dict(unilateral=[0.5635, 0.5926, 0.6124, 0.5779, 0.5996],
            bilateral=[0.5655, 0.6030, 0.5897, 0.6357, 0.6303],
            f1_unilateral=[0.9294, 0.9298, 0.9401, 0.9354, 0.9344],
            f1_bilateral=[0.9250, 0.9443, 0.9414, 0.9540, 0.9321],
            source='Table IV, Mask R-CNN R152, "AJI" per cycle (foreground IoU)'),
    t5=dict(gt20=dict(dice=0.7176, aji=0.5636), lrp20=dict(dice=0.7147, aji=0.5598),
            source='Table V, Mask R-CNN R152'),
    t6=dict(cl_only=0.5655, ssl_only=0.5655, both=0.6357,
            source='Table VI and III, best "AJI" over cycles, Mask R-CNN R152'),
    k=dict(dice={3: 0.6989, 5: 0.7566, 10: 0.7817, 15: 0.8003, 20: 0.8029, 40: 0.8061},
           source='Fig. 5 text, Dice'),
)
METRICS = (('Dice', 'pixel_dice'), ('AJI', 'aji'), ('PQ', 'pq'), ('legacy AJI', 'legacy/aji'))


# -- reading runs -------------------------------------------------------------------------
def metrics_file(path: Path) -> Optional[Dict[str, float]]:
    """``{metric: value}`` of a ``metrics.json`` without the ``nuclei/`` prefix, or None."""
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return {key.split('/', 1)[1] if key.startswith('nuclei/') else key: value
            for key, value in raw.items()}


def test_of(out: Path, run: str) -> Optional[Dict[str, float]]:
    return metrics_file(out / run / 'test' / 'metrics.json')


def seeds_of(out: Path, stem: str) -> List[int]:
    """The training seeds with a finished run ``<stem>_seed<s>``."""
    found = []
    for path in sorted(out.glob(f'{stem}_seed*')):
        suffix = path.name[len(stem) + len('_seed'):]
        if suffix.isdigit() and (path / 'test' / 'metrics.json').is_file():
            found.append(int(suffix))
    return found


def over_seeds(out: Path, stem: str, key: str) -> List[float]:
    return [test_of(out, f'{stem}_seed{s}')[key] for s in seeds_of(out, stem)]


def per_cycle(out: Path, run: str, key: str) -> List[Optional[float]]:
    """Test ``key`` of each cycle's selected phase (phase_tests/), in cycle order."""
    summary_file = out / run / 'summary.json'
    if not summary_file.is_file():
        return []
    values = []
    for cycle in json.loads(summary_file.read_text())['cycles']:
        tested = metrics_file(out / run / 'phase_tests' / f'cycle_{cycle["cycle"]}'
                              / cycle['selected'] / 'metrics.json')
        values.append(tested.get(key) if tested else None)
    return values


def classifier_f1(out: Path, run: str) -> List[Optional[float]]:
    summary_file = out / run / 'summary.json'
    if not summary_file.is_file():
        return []
    return [c.get('classifier_f1') for c in json.loads(summary_file.read_text())['cycles']]


def scalars(work: Path, key: str) -> List[Tuple[int, float]]:
    """``(step, value)`` of ``key`` in the run's mmengine scalars (every timestamp folder)."""
    points = {}
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if key in record:
                points[int(record['step'])] = float(record[key])
    return sorted(points.items())


# -- numbers --------------------------------------------------------------------------------
def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def cell(values: Sequence[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return 'not run'
    mean, std = mean_std(values)
    return f'{mean:.4f}' if len(values) == 1 else f'{mean:.4f} ± {std:.4f} (n={len(values)})'


def verdict(better: Sequence[float], worse: Sequence[float]) -> str:
    """Whether ``better`` > ``worse`` (the paper's order) beyond the spread over seeds."""
    if len(better) < 2 or len(worse) < 2:
        return 'inconclusive (fewer than 2 seeds)'
    (m1, s1), (m2, s2) = mean_std(better), mean_std(worse)
    spread = math.sqrt(s1 ** 2 + s2 ** 2)
    if m1 - m2 > spread:
        return f'reproduced ({m1 - m2:+.4f}, spread {spread:.4f})'
    if m2 - m1 > spread:
        return f'not reproduced ({m1 - m2:+.4f}, spread {spread:.4f})'
    return f'inconclusive ({m1 - m2:+.4f} within the spread {spread:.4f})'


def similar_verdict(weak: Sequence[float], full: Sequence[float], ratio_floor: float = 0.95
                    ) -> str:
    """Weak ≈ full: reproduced when weak reaches ``ratio_floor`` of full or is within the
    spread of it; not reproduced when full exceeds weak by more than the spread."""
    if len(weak) < 2 or len(full) < 2:
        return 'inconclusive (fewer than 2 seeds)'
    (mw, sw), (mf, sf) = mean_std(weak), mean_std(full)
    spread = math.sqrt(sw ** 2 + sf ** 2)
    ratio = mw / mf if mf else math.nan
    if mf - mw > spread and ratio < ratio_floor:
        return f'not reproduced (ratio {ratio:.3f}, gap {mf - mw:.4f} > spread {spread:.4f})'
    if ratio >= ratio_floor:
        return f'reproduced (ratio {ratio:.3f})'
    return f'inconclusive (ratio {ratio:.3f}, gap {mf - mw:.4f} within spread {spread:.4f})'


# -- plots ------------------------------------------------------------------------------------
def pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot().close(fig)
    return path.name


# -- sections -------------------------------------------------------------------------------
def budget_section(out: Path, images: Path) -> List[str]:
    lines = ['## Budgets', '']
    classifier = {e: scalars(out / f'budget_classifier_e{e}', 'single-label/f1-score')
                  for e in CLASSIFIER_BUDGETS}
    classifier = {e: curve for e, curve in classifier.items() if curve}
    full = scalars(out / 'budget_full_hovernet_curve', 'nuclei/aji')
    if not classifier and not full:
        return lines + ['Not run yet (`ROWS=budget make reproduce`).', '']
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for epochs, curve in classifier.items():
        left.plot([s for s, _ in curve], [v / 100 for _, v in curve], marker='o',
                  label=f'{epochs} epochs')
    left.set(title='front-end classifier R18: validation F1', xlabel='epoch', ylabel='F1')
    if classifier:
        left.legend(fontsize=8)
    if full:
        right.plot([s * 96 for s, _ in full], [v for _, v in full], marker='o')
    right.set(title='fully supervised HoVer-Net R18: validation AJI', xlabel='iteration',
              ylabel='AJI')
    name = save(fig, images / 'reproduction_budgets.png')
    lines += [f'![budgets](images/{name})', '']
    if classifier:
        finals = [(e, curve[-1][1] / 100) for e, curve in classifier.items()
                  if curve[-1][0] == e]
        choice = converged_budget(finals)
        lines += ['Front-end classifier (`configs/reproduce/classifier_r18.py`, cosine decay over '
                  'each budget, one run per budget): validation F1 (macro, simulated tiles) at '
                  'the end of each budget: '
                  + ', '.join(f'{e} epochs: {f1:.3f}' for e, f1 in finals) + '. '
                  'Shortest budget within 0.01 F1 of twice its budget: '
                  + (f'{choice} epochs.' if choice else 'none of these.'), '']
    if full:
        choice = converged_budget(full)
        lines += ['Fully supervised HoVer-Net R18 (`configs/reproduce/full_hovernet_r18.py`, one '
                  'run, constant lr after warm-up, 96 iterations an epoch): validation AJI at '
                  'epoch ' + ', '.join(f'{s}: {v:.4f}' for s, v in full) + '. '
                  'Shortest budget within 0.01 AJI of twice its budget: '
                  + (f'epoch {choice}.' if choice else 'none on this curve.'), '']
    lines += [f'Budgets set in `configs/reproduce/budget.py` (what the rows run with): '
              f'{budget_values()}.', '']
    return lines


def status_section(out: Path, images: Path) -> List[str]:
    """Finished runs per row of ``make reproduce`` (training seeds 0, 1, 2)."""
    lines = ['## Status', '', '| row | finished runs | of |', '|---|---|---|']
    for row, runs in rows([0, 1, 2]).items():
        finished = sum(1 for run in runs if (out / run.name / 'test' / 'metrics.json').is_file()
                       or (out / run.name / 'done.json').is_file())
        lines.append(f'| {row} | {finished} | {len(runs)} |')
    return lines + ['']


def budget_values() -> str:
    namespace: Dict[str, object] = {}
    exec((REPO / 'configs' / 'reproduce' / 'budget.py').read_text(), namespace)
    return ', '.join(f'{k} = {namespace[k]}' for k in ('classifier_epochs', 'phase_epochs'))


def converged_budget(curve: List[Tuple[int, float]], tolerance: float = 0.01) -> Optional[int]:
    """The first epoch ``e`` of the curve whose AJI is within ``tolerance`` of that at ``2e``."""
    values = dict(curve)
    for epoch, value in curve:
        if 2 * epoch in values and values[2 * epoch] - value <= tolerance:
            return epoch
    return None


def t1_section(out: Path, images: Path) -> List[str]:
    full = over_seeds(out, 'full_hovernet', 'aji')
    weak = over_seeds(out, 'cyclic_bilateral', 'aji')
    paper = PAPER['t1_hovernet']
    lines = ['## T1/II: weak ≈ full', '',
             '| row | Dice | AJI | legacy AJI | paper Dice | paper AJI |',
             '|---|---|---|---|---|---|',
             f"| fully supervised HoVer-Net R18 "
             f"| {cell(over_seeds(out, 'full_hovernet', 'pixel_dice'))} "
             f"| {cell(full)} | {cell(over_seeds(out, 'full_hovernet', 'legacy/aji'))} "
             f"| {paper['full']['dice']} | {paper['full']['aji']} |",
             f"| cyclic learning (bilateral, 3 cycles) | "
             f"{cell(over_seeds(out, 'cyclic_bilateral', 'pixel_dice'))} | {cell(weak)} | "
             f"{cell(over_seeds(out, 'cyclic_bilateral', 'legacy/aji'))} | {paper['cl']['dice']} "
             f"| {paper['cl']['aji']} |", '',
             "Test AJI ratio weak / full: ours "
             + (f'{mean_std(weak)[0] / mean_std(full)[0]:.3f}' if weak and full else 'not run')
             + f"; paper {paper['cl']['aji'] / paper['full']['aji']:.3f} ({paper['source']}). "
             f"**Verdict: {similar_verdict(weak, full)}.**", '']
    return lines


def t4_section(out: Path, images: Path) -> List[str]:
    lines = ['## T4: sharing modes, per cycle', '',
             '| mode | cycle | test AJI | test legacy AJI | classifier F1 (validation) |',
             '|---|---|---|---|---|']
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    finals = {}
    for mode in MODES:
        runs = [f'cyclic_{mode}_seed{s}' for s in seeds_of(out, f'cyclic_{mode}')]
        ajis = [per_cycle(out, r, 'aji') for r in runs]
        legacy = [per_cycle(out, r, 'legacy/aji') for r in runs]
        f1s = [classifier_f1(out, r) for r in runs]
        cycles = max((len(a) for a in ajis), default=0)
        means, stds, f1_means, f1_stds = [], [], [], []
        for c in range(cycles):
            column = [a[c] for a in ajis if len(a) > c]
            f1_column = [f[c] for f in f1s if len(f) > c]
            lines.append(f'| {mode} | {c + 1} | {cell(column)} | '
                         f'{cell([a[c] for a in legacy if len(a) > c])} | {cell(f1_column)} |')
            means.append(mean_std(column)[0])
            stds.append(mean_std(column)[1])
            f1_means.append(mean_std(f1_column)[0])
            f1_stds.append(mean_std(f1_column)[1])
        finals[mode] = over_seeds(out, f'cyclic_{mode}', 'aji')
        if cycles:
            x = list(range(1, cycles + 1))
            left.errorbar(x, means, yerr=stds, marker='o', capsize=3, label=mode)
            right.errorbar(x, f1_means, yerr=f1_stds, marker='o', capsize=3, label=mode)
    left.set(title='test AJI of each cycle\'s selected model', xlabel='cycle', ylabel='AJI')
    right.set(title='front-end F1 (validation tiles)', xlabel='cycle', ylabel='F1')
    for axis in (left, right):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    name = save(fig, images / 'reproduction_t4.png')
    paper = PAPER['t4']
    lines += ['', f'![T4](images/{name})', '',
              'Best model over the cycles (test AJI): '
              + '; '.join(f'{mode} {cell(finals[mode])}' for mode in MODES) + '.',
              f"Paper ({paper['source']}): best bilateral {max(paper['bilateral'])}, best "
              f"unilateral {max(paper['unilateral'])}.",
              "**Verdict bilateral > unilateral: "
              f"{verdict(finals['bilateral'], finals['unilateral'])}; "
              f"unilateral > seeds-only: {verdict(finals['unilateral'], finals['seeds_only'])}.**",
              '']
    return lines


def cycle_one(out: Path, stem: str, key: str) -> List[float]:
    """Test ``key`` of cycle 1's selected model of every finished ``<stem>_seed<s>`` run."""
    values = []
    for seed in seeds_of(out, stem):
        cycles = per_cycle(out, f'{stem}_seed{seed}', key)
        if cycles and cycles[0] is not None:
            values.append(cycles[0])
    return values


def t5_section(out: Path, images: Path) -> List[str]:
    gt = over_seeds(out, 'self_training_gt20', 'aji')
    lrp = cycle_one(out, 'cyclic_unilateral', 'aji')
    paper = PAPER['t5']
    return ['## T5: GT×20 vs LRP×20 seeds, self-training alone', '',
            '| seeds | test Dice | test AJI | paper AJI |', '|---|---|---|---|',
            "| GT×20 (uses pixel labels) | "
            f"{cell(over_seeds(out, 'self_training_gt20', 'pixel_dice'))} "
            f"| {cell(gt)} | {paper['gt20']['aji']} |",
            f"| LRP×20 (cycle 1 of unilateral: self-training from the classifier's seeds) | "
            f"{cell(cycle_one(out, 'cyclic_unilateral', 'pixel_dice'))} | {cell(lrp)} "
            f"| {paper['lrp20']['aji']} |", '',
            f"**Verdict LRP seeds ≈ GT seeds: {similar_verdict(lrp, gt)}** ({paper['source']}).",
            '']


def controls_section(out: Path, images: Path) -> List[str]:
    main = over_seeds(out, 'cyclic_bilateral', 'aji')
    untrained = over_seeds(out, 'cyclic_untrained_classifier', 'aji')
    no_prior = over_seeds(out, 'cyclic_no_stain_prior', 'aji')
    return ['## Controls', '',
            '| run | test AJI |', '|---|---|',
            f'| cyclic learning (bilateral) | {cell(main)} |',
            f'| the same with a classifier that never learns (lr 0: seeds and shared backbone '
            f'from its initialisation) | {cell(untrained)} |',
            f'| the same without the stain prior | {cell(no_prior)} |', '',
            f'**Do the image-level labels matter end to end (trained > untrained classifier)? '
            f'{verdict(main, untrained)}. Stain prior on > off: {verdict(main, no_prior)}.**',
            '']


def t3_section(out: Path, images: Path) -> List[str]:
    runs = [f'cyclic_bilateral_seed{s}' for s in seeds_of(out, 'cyclic_bilateral')]
    if not runs:
        return ['## T3: every phase', '', 'Not run yet.', '']
    lines = ['## T3: every phase of every cycle (bilateral runs, test images)', '',
             '| cycle | phase | ' + ' | '.join(name for name, _ in METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    phases = sorted({(int(p.parent.name.split('_')[1]), p.name)
                     for r in runs for p in (out / r / 'phase_tests').glob('cycle_*/*')},
                    key=lambda cp: (cp[0], cp[1] != 'teacher', cp[1]))
    for cycle, phase in phases:
        tested = [metrics_file(out / r / 'phase_tests' / f'cycle_{cycle}' / phase
                               / 'metrics.json') for r in runs]
        tested = [t for t in tested if t]
        lines.append(f'| {cycle} | {phase} | '
                     + ' | '.join(cell([t.get(key) for t in tested]) for _, key in METRICS) + ' |')
    return lines + ['']


def t6_section(out: Path, images: Path) -> List[str]:
    cl_only = over_seeds(out, 'cyclic_teacher_only', 'aji')
    ssl_only = cycle_one(out, 'cyclic_unilateral', 'aji')
    both = over_seeds(out, 'cyclic_bilateral', 'aji')
    paper = PAPER['t6']
    return ['## T6: parts of the method', '',
            '| run | test AJI | paper "AJI" |', '|---|---|---|',
            f"| teacher only + cycle (num_students=0) | {cell(cl_only)} | {paper['cl_only']} |",
            f"| self-training alone (cycle 1 of unilateral) | {cell(ssl_only)} | "
            f"{paper['ssl_only']} |",
            f"| both (bilateral cyclic learning) | {cell(both)} | {paper['both']} |", '',
            f'**Verdict both > either: {verdict(both, cl_only)} (vs cycle only); '
            f'{verdict(both, ssl_only)} (vs self-training only).** ({paper["source"]})', '']


def k_section(out: Path, images: Path) -> List[str]:
    rows = []
    for k in K_VALUES:
        found = sorted(out.glob(f'self_training_lrp_k{k}_seed*'))
        tested = [test_of(out, p.name) for p in found]
        tested = [t for t in tested if t]
        rows.append((k, [t['pixel_dice'] for t in tested], [t['aji'] for t in tested]))
    lines = ['## Fig. 5: K seeds per image (self-training alone, one training seed)', '',
             '| K | test Dice | test AJI | paper Dice |', '|---|---|---|---|']
    for k, dice, aji in rows:
        lines.append(f"| {k} | {cell(dice)} | {cell(aji)} | {PAPER['k']['dice'].get(k, '–')} |")
    return lines + ['']


def t7_section(out: Path, images: Path) -> List[str]:
    lines = ['## T7: back-ends, full vs weak', '',
             '| back-end | fully supervised AJI | cyclic learning AJI | verdict weak ≈ full |',
             '|---|---|---|---|']
    for name, full, weak in (('HoVer-Net R18', 'full_hovernet', 'cyclic_bilateral'),
                             ('Mask R-CNN R18', 'full_mask_rcnn', 'cyclic_mask_rcnn'),
                             ('KG Instance R18', 'full_kg_instance', 'cyclic_kg_instance')):
        f, w = over_seeds(out, full, 'aji'), over_seeds(out, weak, 'aji')
        lines.append(f'| {name} | {cell(f)} | {cell(w)} | {similar_verdict(w, f)} |')
    return lines + ['']


SECTIONS = (status_section, budget_section, t1_section, t4_section, controls_section, t5_section,
            t3_section, t6_section, k_section, t7_section)
HEADER = """# Reproduction: the paper's claims at a CPU budget

Generated by `python scripts/experiments/reproduction_page.py` from the work dirs of
`make reproduce` (`{out}`), commit {commit}; no number here is typed by hand. Protocol and
configs: [configs/reproduce/README.md](../configs/reproduce/README.md). MoNuSeg, Kumar split
(12 training, 4 validation, 14 test images); the tile labels of the front-end are
**simulated** from the instance ground truth (64 px tiles, `tools/simulate_image_labels.py`):
the paper's pathologist labels are not public. ResNet-18 at both ends from random
initialisation (no ImageNet weights), HoVer-Net R18 the main back-end. Every back-end phase
(the fully supervised run, each teacher and student) trains the same number of iterations
(`configs/reproduce/budget.py`); classifier epochs and seed extraction are not back-end
iterations. Test metrics on the 14 test images; mean ± sample std over training seeds.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=REPO / 'work_dirs' / 'reproduce')
    parser.add_argument('--page', type=Path, default=REPO / 'docs' / 'reproduction.md')
    parser.add_argument('--images', type=Path, default=REPO / 'docs' / 'images')
    args = parser.parse_args()
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    lines = [HEADER.format(out=args.out.relative_to(REPO) if args.out.is_relative_to(REPO)
                           else args.out, commit=commit)]
    for section in SECTIONS:
        lines += section(args.out, args.images)
    args.page.write_text('\n'.join(lines).rstrip('\n') + '\n')
    print(f'{args.page}: written')


if __name__ == '__main__':
    main()
