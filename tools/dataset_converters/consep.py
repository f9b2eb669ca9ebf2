"""Convert CoNSeP (Train 27 -> 26 train + 1 seeded val, Test 14) into data/consep.

Example::

    python tools/dataset_converters/consep.py --src /path/to/CoNSeP --out data/consep
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a plain checkout

from mmcyclic.datasets.converters.cli import add_patch_arguments, run_conversion  # noqa: E402
from mmcyclic.datasets.converters.consep import convert_consep  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', required=True,
                        help='CoNSeP folder with Train/{Images,Labels} and Test/{Images,Labels}')
    parser.add_argument('--out', default='data/consep', help='output folder')
    parser.add_argument('--val-seed', type=int, default=0, help='seed of the val image choice')
    parser.add_argument('--num-val', type=int, default=1)
    add_patch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert; return the exit status (see mmcyclic.datasets.converters.cli)."""
    args = parse_args(argv)
    return run_conversion(lambda: convert_consep(
        args.src, args.out, val_seed=args.val_seed, num_val=args.num_val,
        patch_size=args.patch_size, min_area=args.min_area, overwrite=args.overwrite), args.out)


if __name__ == '__main__':
    sys.exit(main())
