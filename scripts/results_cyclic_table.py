"""Tables of scripts/results_cyclic_monuseg.sh: per run and per mode (mean ± std over seeds).

    python scripts/results_cyclic_table.py work_dirs/results_cyclic_monuseg

Reads ``<mode>_seed<s>/summary.json`` (validation, per cycle) and
``<mode>_seed<s>/test/metrics.json`` (the run's best model on the test images) and prints
markdown.
"""
import json
import re
import sys
from pathlib import Path

from result_tables import TEST_KEYS, mean_std, test_metrics

MODES = ('bilateral', 'unilateral', 'seeds_only')


def main(out: Path) -> None:
    runs = sorted(p for p in out.iterdir() if re.fullmatch(r'\w+_seed\d+', p.name)
                  and (p / 'summary.json').is_file())
    print('| run | cycle | classifier F1 | seed precision | val Dice per phase | selected |')
    print('|---|---|---|---|---|---|')
    for run in runs:
        for c in json.loads((run / 'summary.json').read_text())['cycles']:
            phases = ', '.join(f'{p["name"]} {p["dice"]:.4f}' for p in c['phases']
                               if p['dice'] is not None)
            precision = c['seed_precision']
            print(f'| {run.name} | {c["cycle"]} | {c["classifier_f1"]:.4f} | '
                  f'{"–" if precision is None else f"{precision:.3f}"} | {phases} | '
                  f'{c["selected"]} |')
    print()
    print('| mode | seeds | ' + ' | '.join(f'test {n}' for n, _ in TEST_KEYS)
          + ' | best cycle per seed |')
    print('|---|---|' + '---|' * (len(TEST_KEYS) + 1))
    for mode in MODES:
        tested = [r for r in runs if r.name.startswith(mode + '_seed')
                  and (r / 'test' / 'metrics.json').is_file()]
        if not tested:
            continue
        metrics = [test_metrics(r / 'test' / 'metrics.json') for r in tested]
        best = [str(json.loads((r / 'summary.json').read_text())['best_cycle']) for r in tested]
        cells = [mean_std([m[name] for m in metrics]) for name, _ in TEST_KEYS]
        print(f'| {mode} | {len(tested)} | ' + ' | '.join(cells) + f' | {", ".join(best)} |')


if __name__ == '__main__':
    main(Path(sys.argv[1]))
