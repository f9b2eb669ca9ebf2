"""Score a folder of predicted instance label maps against ground truth.

Usage::

    python tools/eval_nuclei.py GT_DIR PRED_DIR [--out per_image.csv] [--legacy]

Files (PNG/TIFF/NPY, 0 = background, one integer id per nucleus) are matched
by stem; PRED_DIR may be the ``--out`` folder of ``tools/infer.py`` as it is
(``<stem>_labels.tif`` is matched to GT ``<stem>``, overlays are ignored).
Prints the mean of every metric over images (with how many images had an
undefined object Hausdorff) and lists stems missing on either side and files
that could not be read.

Exit status: 0 when every image was scored; 1 when nothing was scored (the
reason is printed) or some image was missing or not scored; 2 when a folder
does not exist. The work is done by
:func:`mmcyclic.evaluation.folder_eval.evaluate_folders`.
"""
import argparse
import importlib.util
import sys
from pathlib import Path
from typing import List, Optional

if 'mmcyclic' not in sys.modules and importlib.util.find_spec('mmcyclic') is None:
    # a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmcyclic.evaluation.folder_eval import evaluate_folders, format_report  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Dice, AJI, AJI+, DQ/SQ/PQ, object Dice and object Hausdorff of '
        'predicted nuclei label maps (see docs/metrics.md)')
    parser.add_argument('gt_dir', help='folder of ground-truth label maps')
    parser.add_argument('pred_dir', help='folder of predicted label maps (same stems, or '
                        '<stem>_labels.* as tools/infer.py writes them)')
    parser.add_argument('--out', metavar='CSV', help='write the per-image table to this CSV file')
    parser.add_argument('--legacy', action='store_true',
                        help="also compute the Cyclic authors' evaluation numbers "
                        '(legacy/*; NOT the true metrics, see docs/metrics.md)')
    parser.add_argument('--no-progress', action='store_true', help='do not show a progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        result = evaluate_folders(args.gt_dir, args.pred_dir, out_csv=args.out, legacy=args.legacy,
                                  progress=not args.no_progress)
    except FileNotFoundError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    print(format_report(result))
    if not result.rows:
        print(f'ERROR: nothing scored: {result.why_nothing_scored(args.gt_dir, args.pred_dir)}',
              file=sys.stderr)
        return 1
    if args.out:
        print(f'per-image scores: {args.out}')
    if result.num_problems:
        print(f'ERROR: {result.num_problems} image(s) missing or not scored (listed above)',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
