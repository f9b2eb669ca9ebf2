"""`make reproduce`: the reproduction protocol of docs/reproduction.md, row by row, resumable.

    make reproduce                                   # every row, SEEDS="0 1 2"
    ROWS="t1 t4" SEEDS="0 1 2" make reproduce        # a part
    python scripts/experiments/reproduce.py --rows t4 --seeds 0 --dry-run   # what would run

Rows (configs in configs/reproduce/, README there): ``budget`` (the curves the budgets of
configs/reproduce/budget.py are chosen on), ``t1`` (fully supervised vs cyclic learning),
``t4`` (bilateral / unilateral / seeds-only), ``controls`` (seeds from an untrained classifier;
stain prior off), ``t5`` (GT x 20 seeds, self-training alone), ``t3`` (every phase of the t4
runs tested: no run of its own), ``t6`` (teacher only + cycle), ``k`` (K of the seeds), ``t7``
(Mask R-CNN and KG Instance back-ends).

Every run has its own work dir under ``--out`` (work_dirs/reproduce/<run>): a finished run (its
``test/metrics.json`` exists) is skipped, an interrupted one resumed with ``--resume``, so the
protocol can be spread over several sittings. Work that recurs is done once and recorded
(``reused.json`` in the work dir): every mode of one training seed takes the cycle-1
classifier and seeds of the bilateral run, and seeds-only also the cycle-1 self-training of
the unilateral run (the two are the same computation; only the hand-back differs). A cyclic
run ends with every phase checkpoint tested (``phase_tests/``, :mod:`test_phases`).
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
CONFIGS = 'configs/reproduce'
ROW_NAMES = ('budget', 't1', 't4', 'controls', 't5', 't3', 't6', 'k', 't7')
MODES = ('bilateral', 'unilateral', 'seeds_only')
K_VALUES = (3, 5, 10, 20, 40)
# Epoch budgets of the front-end classifier tried by the budget row (cosine decay over each).
CLASSIFIER_BUDGETS = (2, 4, 8)
# One compute thread per run (REPRODUCE_THREADS to change): on a shared 2-core machine two
# threads of one run wait on each other (measured 6-7 s per classifier iteration against
# 0.25 s idle), and a fixed count keeps a resumed run's arithmetic the same.
THREADS = {name: os.environ.get('REPRODUCE_THREADS', '1')
           for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}
# What a 1-iteration smoke budget changes (the suite's smoke test, --smoke).
SMOKE_DATA = ['train_dataloader.dataset.indices=2', 'val_dataloader.dataset.indices=2',
              'test_dataloader.dataset.indices=2']
SMOKE = dict(
    epochs=['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1'] + SMOKE_DATA,
    self_training=['train_cfg.teacher_epochs=1', 'train_cfg.student_epochs=1',
                   'train_cfg.num_students=1', 'train_cfg.allow_empty_pseudo_labels=True']
    + SMOKE_DATA,
    cyclic=['train_cfg.max_cycles=2', 'train_cfg.self_training.teacher_epochs=1',
            'train_cfg.self_training.student_epochs=1', 'train_cfg.self_training.num_students=1',
            'train_cfg.classifier.cfg_options.train_cfg.max_epochs=1',
            'train_cfg.classifier.cfg_options.train_dataloader.dataset.indices=4',
            'train_cfg.classifier.cfg_options.val_dataloader.dataset.indices=4',
            # small images with few nuclei, models that saw one iteration
            'train_cfg.seeds.tile_size=64', 'train_cfg.seeds.min_overlap=16',
            'train_cfg.seeds.recipe.preset=paper',
            'train_cfg.self_training.allow_empty_pseudo_labels=True'] + SMOKE_DATA,
    classifier=['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=4',
                'val_dataloader.dataset.indices=4'])


@dataclass
class Run:
    """One training run of the protocol and how it is tested.

    Attributes:
        name: Its work dir under the output folder.
        config: Config under ``configs/reproduce/``.
        kind: ``'epochs'`` (an EpochBasedTrainLoop: the last checkpoint is tested),
            ``'self_training'``, ``'cyclic'`` (``best_student.pth`` is tested; every phase too)
            or ``'classifier'`` (a front-end curve: not tested).
        seed: The training seed (``randomness.seed``).
        options: More ``--cfg-options``.
        reuse: ``(run name, units)``: start from that run's cycle-1 units.
        seed_file: ``(kind, argument)`` of a seed file to make first: ``('gt', K)``,
            ``('lrp', (run name, K))``.
    """

    name: str
    config: str
    kind: str
    seed: int
    options: List[str] = field(default_factory=list)
    reuse: Optional[Tuple[str, Tuple[str, ...]]] = None
    seed_file: Optional[Tuple[str, object]] = None


def cyclic(name: str, seed: int, config: str = 'cyclic_hovernet_r18.py',
           options: Sequence[str] = (), reuse: Optional[Tuple[str, Tuple[str, ...]]] = None
           ) -> Run:
    return Run(f'{name}_seed{seed}', config, 'cyclic', seed, list(options), reuse)


def mode_runs(seed: int) -> List[Run]:
    """The three sharing modes of one training seed, cycle 1 computed once."""
    bilateral = cyclic('cyclic_bilateral', seed)
    unilateral = cyclic('cyclic_unilateral', seed, options=['train_cfg.mode=unilateral'],
                        reuse=(bilateral.name, ('classifier', 'seeds')))
    seeds_only = cyclic('cyclic_seeds_only', seed, options=['train_cfg.mode=seeds_only'],
                        reuse=(unilateral.name, ('classifier', 'seeds', 'self_training')))
    return [bilateral, unilateral, seeds_only]


def rows(seeds: Sequence[int]) -> Dict[str, List[Run]]:
    """Every row's runs for the training seeds ``seeds``."""
    table: Dict[str, List[Run]] = {name: [] for name in ROW_NAMES}
    table['budget'] = [
        Run(f'budget_classifier_e{e}', 'classifier_r18.py', 'classifier', 0,
            [f'train_cfg.max_epochs={e}', f'param_scheduler.1.end={e}',
             f'param_scheduler.1.T_max={e}']) for e in CLASSIFIER_BUDGETS] + [
        Run('budget_full_hovernet_curve', 'full_hovernet_r18.py', 'epochs', 0,
            ['train_cfg.max_epochs=32'])]
    for seed in seeds:
        modes = mode_runs(seed)
        bilateral = modes[0].name
        table['t1'] += [Run(f'full_hovernet_seed{seed}', 'full_hovernet_r18.py', 'epochs', seed),
                        modes[0]]
        table['t4'] += modes
        table['controls'] += [
            cyclic('cyclic_untrained_classifier', seed,
                   options=['train_cfg.classifier.cfg_options.optim_wrapper.optimizer.lr=0.0']),
            cyclic('cyclic_no_stain_prior', seed,
                   options=['model.train_cfg.ignore_unlabelled_stain_blobs=None'],
                   reuse=(bilateral, ('classifier', 'seeds')))]
        table['t5'] += [Run(f'self_training_gt20_seed{seed}', 'self_training_hovernet_r18.py',
                            'self_training', seed, seed_file=('gt', 20)), modes[1]]
        table['t6'] += [cyclic('cyclic_teacher_only', seed,
                               options=['train_cfg.self_training.num_students=0'],
                               reuse=(bilateral, ('classifier', 'seeds'))), modes[0], modes[1]]
        table['t7'] += [
            Run(f'full_mask_rcnn_seed{seed}', 'full_mask_rcnn_r18.py', 'epochs', seed),
            cyclic('cyclic_mask_rcnn', seed, config='cyclic_mask_rcnn_r18.py'),
            Run(f'full_kg_instance_seed{seed}', 'full_kg_instance_r18.py', 'epochs', seed),
            cyclic('cyclic_kg_instance', seed, config='cyclic_kg_instance_r18.py')]
    first = seeds[0] if seeds else 0
    table['k'] = [Run(f'self_training_lrp_k{k}_seed{first}', 'self_training_hovernet_r18.py',
                      'self_training', first,
                      seed_file=('lrp', (mode_runs(first)[0].name, k))) for k in K_VALUES]
    return table


class Protocol:
    """Runs the rows in a work folder: skip what is done, resume what was interrupted."""

    def __init__(self, out: Path, python: str, smoke: bool = False, dry_run: bool = False,
                 data_root: Optional[str] = None, tiles_root: Optional[str] = None) -> None:
        self.out = out
        self.python = python
        self.smoke = smoke
        self.dry_run = dry_run
        self.data_options = data_options(data_root, tiles_root)
        self.data_root = data_root or 'data/monuseg'

    # -- one run ------------------------------------------------------------------
    def run(self, run: Run) -> None:
        work = self.out / run.name
        if (work / 'test' / 'metrics.json').exists() or (
                run.kind == 'classifier' and (work / 'done.json').exists()):
            print(f'== {run.name}: done')
            return
        if self.dry_run:
            print(f'== {run.name}: would run {run.config} (seed {run.seed})')
            return
        start = time.time()
        if run.reuse:
            reuse_cycle_one(self.out / run.reuse[0], work, run.reuse[1])
        options = [f'randomness.seed={run.seed}'] + self.data_options.get(run.kind, []) \
            + run.options + (SMOKE[run.kind] if self.smoke else [])
        if run.seed_file:
            options.append(f'train_cfg.seed_file={self.make_seed_file(run)}')
        config = str(REPO / CONFIGS / run.config)
        command = [self.python, 'tools/train.py', config, '--work-dir', str(work)]
        if started(work, run.kind):
            command.append('--resume')
        self.call(command + ['--cfg-options'] + options, run.name, 'train')
        if run.kind != 'classifier':
            self.test(run, work, config, options)
        record = dict(run=run.name, config=run.config, seed=run.seed, options=options,
                      commit=git_commit(), wall_seconds=round(time.time() - start))
        write_json(work / ('done.json' if run.kind == 'classifier' else 'test/run.json'), record)

    def test(self, run: Run, work: Path, config: str, options: List[str]) -> None:
        test_options = [o for o in options if o.startswith(('test_dataloader', 'randomness'))]
        if run.kind == 'cyclic':
            self.call([self.python, 'scripts/experiments/test_phases.py', config, str(work),
                       '--cfg-options'] + test_options, run.name, 'test every phase')
        checkpoint = best_checkpoint(work, run.kind)
        self.call([self.python, 'tools/test.py', config, str(checkpoint), '--work-dir',
                   str(work / 'test'), '--out-dir', str(work / 'test'), '--cfg-options']
                  + test_options, run.name, f'test {checkpoint.name}')

    def make_seed_file(self, run: Run) -> Path:
        kind, argument = run.seed_file
        seeds_dir = self.out / 'seed_files'
        if kind == 'gt':
            path = seeds_dir / f'gt{argument}_seed{run.seed}.json'
            if not path.exists():
                self.call([self.python, 'tools/make_gt_seeds.py', '--ann',
                           f'{self.data_root}/annotations/instances_train_full.json', '--k',
                           str(argument), '--seed', str(run.seed), '--out', str(path)],
                          run.name, 'GT seeds')
            return path
        source, k = argument
        path = seeds_dir / f'lrp_k{k}_{source}_cycle1.json'
        if not path.exists():
            cycle = self.out / source / 'cycle_1'
            if not (cycle / 'classifier' / 'classifier.pth').exists():
                sys.exit(f'ERROR: {run.name} needs the cycle-1 classifier of {source}: run '
                         f'ROWS=t4 first')
            self.call([self.python, 'tools/extract_seeds.py',
                       str(REPO / CONFIGS / 'classifier_r18.py'),
                       str(cycle / 'classifier' / 'classifier.pth'), '--out', str(path),
                       '--images-ann', f'{self.data_root}/annotations/instances_train_full.json',
                       '--relevance-dir', str(cycle / 'relevance'), '--reuse-relevance',
                       '--max-seeds', str(k), '--no-controls'], run.name, f'LRP seeds K={k}')
        return path

    def call(self, command: List[str], name: str, what: str) -> None:
        print(f'== {name}: {what} ({time.strftime("%H:%M:%S")})', flush=True)
        result = subprocess.run(command, cwd=REPO, env=dict(os.environ, **THREADS))
        if result.returncode:
            sys.exit(f'ERROR: {name}: {what} failed (exit {result.returncode}): '
                     + ' '.join(command))


def data_options(data_root: Optional[str], tiles_root: Optional[str]) -> Dict[str, List[str]]:
    """``--cfg-options`` that point every kind of run at other data (the smoke test)."""
    if not data_root:
        return {}
    root = data_root.rstrip('/') + '/'
    detector = [f'{loader}.dataset.data_root={root}'
                for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    tiles = (tiles_root or osp.join(data_root, 'tiles_sim64')).rstrip('/') + '/'
    classifier = [f'{loader}.dataset.data_root={tiles}'
                  for loader in ('train_dataloader', 'val_dataloader')]
    return dict(epochs=detector, self_training=detector, classifier=classifier,
                cyclic=detector + [f'train_cfg.classifier.cfg_options.{o}' for o in classifier])


def started(work: Path, kind: str) -> bool:
    """Whether an earlier attempt left state to resume from."""
    markers = dict(cyclic='cyclic_state.json', self_training='self_training/state.json')
    return (work / markers.get(kind, 'last_checkpoint')).exists()


def best_checkpoint(work: Path, kind: str) -> Path:
    """The checkpoint a run's test scores."""
    if kind == 'cyclic':
        return work / 'best_student.pth'
    if kind == 'self_training':
        return work / 'self_training' / 'best_student.pth'
    return Path((work / 'last_checkpoint').read_text().strip())


def reuse_cycle_one(source: Path, target: Path, units: Sequence[str]) -> None:
    """Start ``target`` from the finished cycle-1 ``units`` of the cyclic run ``source``.

    ``units``: ``classifier``, ``seeds`` and optionally ``self_training`` (the
    whole cycle-1 self-training: its phases, selection and best model). The files are
    hard-linked (checkpoints) or copied with ``source`` paths rewritten to ``target``
    (JSON); ``reused.json`` records what came from where. Does nothing when ``target``
    has started already.
    """
    if (target / 'cyclic_state.json').exists():
        return
    state_file = source / 'cyclic_state.json'
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    finished = state.get('cycles', [])
    if not finished:
        sys.exit(f'ERROR: {target.name} reuses cycle 1 of {source.name}, which has not '
                 f'finished it: run {source.name} first (rows run in order)')
    record = finished[0]
    files = ['initial_weights.pth', 'cycle_1/classifier/classifier.pth', 'cycle_1/seeds.json',
             'cycle_1/seed_quality.json', 'cycle_1/seed_quality.md',
             'cycle_1/seeds_untrained_classifier.json']
    folders = ['cycle_1/relevance', 'untrained_classifier']
    if 'self_training' in units:
        folders += [p.relative_to(source).as_posix() for p in (source / 'cycle_1').iterdir()
                    if p.is_dir() and (p.name in ('teacher',) or p.name.startswith('student_'))]
        files += ['cycle_1/state.json', 'cycle_1/self_training.json',
                  'cycle_1/training_patches.json', 'cycle_1/best_student.pth',
                  'cycle_1/initial_weights.pth']
    for name in files:
        if (source / name).exists():
            link_or_rewrite(source / name, target / name, source, target)
    for name in folders:
        for path in sorted((source / name).rglob('*')) if (source / name).is_dir() else []:
            if path.is_file():
                link_or_rewrite(path, target / path.relative_to(source), source, target)
    units_done = {unit: record[unit] for unit in ('classifier', 'seeds')}
    new_state = dict(cycles=[], units={'1': units_done})
    text = json.dumps(new_state).replace(str(source), str(target))
    write_json(target / 'cyclic_state.json', json.loads(text))
    write_json(target / 'reused.json', dict(source=source.name, units=list(units),
                                            cycle=1, commit=git_commit()))


def link_or_rewrite(path: Path, target: Path, old: Path, new: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.json':
        target.write_text(path.read_text().replace(str(old), str(new)))
        return
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix('.json.tmp')
    temporary.write_text(json.dumps(value, indent=1))
    os.replace(temporary, path)


def git_commit() -> str:
    result = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                            capture_output=True, text=True)
    return result.stdout.strip() or 'unknown'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rows', nargs='+', default=os.environ.get('ROWS', '').split() or None,
                        choices=ROW_NAMES, help='rows to run, in this order (default: all)')
    parser.add_argument('--seeds', nargs='+', type=int,
                        default=[int(s) for s in os.environ.get('SEEDS', '0 1 2').split()])
    parser.add_argument('--out', default=os.environ.get('OUT', 'work_dirs/reproduce'))
    parser.add_argument('--python', default=os.environ.get('PYTHON', sys.executable))
    parser.add_argument('--smoke', action='store_true', help='a 1-iteration budget (tests)')
    parser.add_argument('--data-root', help='detector data (default: the configs\', '
                        'data/monuseg)')
    parser.add_argument('--tiles-root', help='classifier tiles (default DATA_ROOT/tiles_sim64)')
    parser.add_argument('--dry-run', action='store_true', help='list the runs, run nothing')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    data = Path(args.data_root or REPO / 'data' / 'monuseg')
    if not (data / 'annotations').is_dir() and not args.dry_run:
        sys.exit(f'ERROR: {data}: no converted MoNuSeg here. Convert it first (README, "Data"): '
                 'python tools/dataset_converters/monuseg.py --src ... --out data/monuseg, then '
                 'python tools/simulate_image_labels.py data/monuseg --out '
                 'data/monuseg/tiles_sim64 --tile-size 64')
    protocol = Protocol(Path(args.out).resolve(), args.python, args.smoke, args.dry_run,
                        args.data_root, args.tiles_root)
    table = rows(args.seeds)
    done = set()
    for row in args.rows or ROW_NAMES:
        print(f'=== row {row}', flush=True)
        for run in table[row]:
            if run.name not in done:
                protocol.run(run)
                done.add(run.name)


if __name__ == '__main__':
    main()
