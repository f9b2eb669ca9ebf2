"""Markdown table of seed reports with their controls (scripts/experiments/seed_controls.sh).

    python scripts/experiments/seed_controls_table.py REPORT_DIR [REPORT_DIR ...]

One row per report dir (``seed_quality.json`` of ``tools/extract_seeds.py --report-dir``):
precision and hit rate of its seeds, of the same recipe on an untrained classifier, and with
K drawn at random, and the precision the trained classifier adds over the untrained one.
"""
import argparse
import json
from pathlib import Path

from mmcyclic.seeds.controls import RANDOM_SELECTION, UNTRAINED_CLASSIFIER


def row(report: Path) -> str:
    summary = json.loads((report / 'seed_quality.json').read_text())['summary']
    controls = summary.get('controls', {})

    def cell(quality):
        if not quality:
            return '–'
        return f"{quality['precision']:.3f} / {quality['hit_rate']:.3f} ({quality['seeds']})"

    untrained = controls.get(UNTRAINED_CLASSIFIER)
    gain = (f"{summary['precision'] - untrained['precision']:+.3f}" if untrained else '–')
    return (f'| {report.name} | {cell(summary)} | {cell(untrained)} | '
            f'{cell(controls.get(RANDOM_SELECTION))} | {gain} |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('reports', nargs='+', type=Path)
    args = parser.parse_args()
    print('| recipe | trained classifier: precision / hit rate (seeds) | untrained classifier '
          '| trained, K at random | precision trained − untrained |\n|---|---|---|---|---|')
    for report in sorted(args.reports):
        print(row(report))


if __name__ == '__main__':
    main()
