"""Convert your own data (images + instance label maps, matched by stem) into data/<name>.

Example::

    python tools/dataset_converters/generic.py --images my/images --labels my/labels \\
        --out data/mydata [--split-file split.json | --val-fraction 0.2 --test-fraction 0.2]
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a plain checkout

from mmcyclic.datasets.converters.cli import add_patch_arguments, run_conversion  # noqa: E402
from mmcyclic.datasets.converters.generic import convert_generic  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', required=True, help='folder of RGB images')
    parser.add_argument('--labels', required=True,
                        help='folder of instance label maps (PNG/TIFF/NPY, 0 = background)')
    parser.add_argument('--out', required=True, help='output folder, e.g. data/mydata')
    parser.add_argument('--name', default=None, help='dataset name (default: OUT folder name)')
    parser.add_argument('--label-suffix', default='',
                        help='suffix of label stems to strip before matching, e.g. _label')
    parser.add_argument('--split-file', default=None,
                        help='JSON {"train": [ids], "val": [ids], "test": [ids]}')
    parser.add_argument('--val-fraction', type=float, default=0.2)
    parser.add_argument('--test-fraction', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0, help='seed of the random split')
    add_patch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert; return the exit status (see mmcyclic.datasets.converters.cli)."""
    args = parse_args(argv)
    return run_conversion(lambda: convert_generic(
        args.images, args.labels, args.out, name=args.name or Path(args.out).name,
        split_file=args.split_file, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, seed=args.seed, label_suffix=args.label_suffix,
        patch_size=args.patch_size, min_area=args.min_area, overwrite=args.overwrite), args.out)


if __name__ == '__main__':
    sys.exit(main())
