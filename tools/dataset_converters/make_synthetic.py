"""Generate a synthetic H&E dataset (exact instance labels) into data/synthetic.

Example::

    python tools/dataset_converters/make_synthetic.py --out data/synthetic \\
        --num-train 12 --num-val 4 --num-test 4 --size 256 --seed 0
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a plain checkout

from mmcyclic.datasets.converters.cli import run_conversion  # noqa: E402
from mmcyclic.datasets.converters.synthetic import convert_synthetic  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/synthetic', help='output folder')
    parser.add_argument('--num-train', type=int, default=12)
    parser.add_argument('--num-val', type=int, default=4)
    parser.add_argument('--num-test', type=int, default=4)
    parser.add_argument('--size', type=int, default=256, help='tile side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--patch-size', type=int, default=256,
                        help='patch side (a tile no larger than this is one patch)')
    parser.add_argument('--overwrite', action='store_true', help='replace an earlier dataset')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert; return the exit status (see mmcyclic.datasets.converters.cli)."""
    args = parse_args(argv)
    return run_conversion(lambda: convert_synthetic(
        args.out, args.num_train, args.num_val, args.num_test, args.size, args.seed,
        args.patch_size, overwrite=args.overwrite), args.out)


if __name__ == '__main__':
    sys.exit(main())
