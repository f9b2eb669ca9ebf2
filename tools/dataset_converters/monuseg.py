"""Convert MoNuSeg 2018 (Kumar split 16/14 or the official 30/14, 4 seeded val) into data/.

Examples, from the official archives as extracted (see README.md, section Data)::

    python tools/dataset_converters/monuseg.py --src "MoNuSeg 2018 Training Data" --from-xml \
        --out data/monuseg
    python tools/dataset_converters/monuseg.py --src "MoNuSeg 2018 Training Data" --from-xml \
        --test-src MoNuSegTestData --out data/monuseg_official

Exit status: 0, 1 when a split ended up empty, 2 for a bad argument (see
mmcyclic.datasets.converters.cli).
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a plain checkout

from mmcyclic.datasets.converters.cli import add_patch_arguments, run_conversion  # noqa: E402
from mmcyclic.datasets.converters.monuseg import convert_monuseg  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', required=True,
                        help='MoNuSeg folder: the official training archive as extracted '
                        '("MoNuSeg 2018 Training Data" with Tissue Images/ and Annotations/; '
                        'needs --from-xml) or train/images + train/instance_masks')
    parser.add_argument('--test-src', default=None,
                        help='the official test archive as extracted (MoNuSegTestData: .tif and '
                        '.xml side by side): use the official split (all of SRC for training, '
                        'this folder for test) instead of the Kumar split')
    parser.add_argument('--out', default='data/monuseg', help='output folder')
    parser.add_argument('--from-xml', action='store_true',
                        help='rasterise the Aperio XML files instead of reading the label maps')
    parser.add_argument('--xml-offset', type=float, default=0.0,
                        help='subtract this from XML coordinates (1 = MATLAB-style rasters)')
    parser.add_argument('--splits', default=None,
                        help='split JSON with kumar_train/kumar_test (default: SRC/splits.json '
                        'if present, else the hard-coded Kumar test ids)')
    parser.add_argument('--val-seed', type=int, default=0, help='seed of the 4 val images')
    parser.add_argument('--num-val', type=int, default=4)
    add_patch_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert; return the exit status (see mmcyclic.datasets.converters.cli)."""
    args = parse_args(argv)
    return run_conversion(lambda: convert_monuseg(
        args.src, args.out, from_xml=args.from_xml, val_seed=args.val_seed,
        num_val=args.num_val, splits_file=args.splits, patch_size=args.patch_size,
        min_area=args.min_area, xml_offset=args.xml_offset, overwrite=args.overwrite,
        test_src=args.test_src), args.out)


if __name__ == '__main__':
    sys.exit(main())
