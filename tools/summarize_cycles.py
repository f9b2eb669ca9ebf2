"""Print the per-cycle table of a cyclic run and redraw its summary.png.

Usage::

    python tools/summarize_cycles.py work_dirs/cyclic_r50_monu
"""
import argparse
import json
import os.path as osp
import sys

from mmcyclic.engine.cyclic_hooks import format_cycle_table, save_summary_plot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='work_dir of a cyclic run (holds summary.json)')
    args = parser.parse_args()
    path = osp.join(args.work_dir, 'summary.json')
    if not osp.isfile(path):
        sys.exit(f'ERROR: {path}: not found; it is written after each finished cycle')
    with open(path, encoding='utf-8') as handle:
        summary = json.load(handle)
    print(format_cycle_table(summary))
    if summary.get('best_cycle') is not None:
        print(f'best: cycle {summary["best_cycle"]} '
              f'(checkpoint {osp.join(args.work_dir, "best_student.pth")})')
    print(summary.get('note', ''))
    save_summary_plot(summary, osp.join(args.work_dir, 'summary.png'))
    print(f'plot: {osp.join(args.work_dir, "summary.png")}')


if __name__ == '__main__':
    main()
