"""Convert MoNuSeg 2018 (Kumar split 16/14, 4 seeded val) into data/monuseg.

Example::

    python tools/dataset_converters/monuseg.py --src ../shared/data/monuseg --out data/monuseg
    python tools/dataset_converters/monuseg.py --src ... --out data/monuseg_xml --from-xml
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a plain checkout

from mmcyclic.datasets.converters.monuseg import convert_monuseg  # noqa: E402
from mmcyclic.datasets.converters.cli import add_patch_arguments, run_conversion  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', required=True, help='MoNuSeg folder (train/images, '
                        'train/instance_masks, train/annotations, splits.json)')
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    run_conversion(lambda: convert_monuseg(
        args.src, args.out, from_xml=args.from_xml, val_seed=args.val_seed,
        num_val=args.num_val, splits_file=args.splits, patch_size=args.patch_size,
        min_area=args.min_area, xml_offset=args.xml_offset, overwrite=args.overwrite), args.out)


if __name__ == '__main__':
    main()
