"""Segment nuclei in images of any size and export GeoJSON (QuPath), label maps, COCO, overlays.

Example::

    python tools/infer.py configs/mask_rcnn_r18_synthetic.py work_dirs/demo/epoch_12.pth \\
        slides/*.tif more_images/ --out results --format geojson,labels,overlay

Exit status: 0 when every input was segmented; 1 when some inputs failed (each
is named, the count is printed); 2 for a bad config, checkpoint or argument and
3 when the --out folder cannot be written (both before any inference); 130 when
interrupted. See docs/inference.md.
"""
import argparse
import sys
from typing import List, Optional

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.apis.result import FORMATS
from mmcyclic.apis.segmenter import NucleiSegmenter, OutputDirError, check_output_dir, segment_files
from mmcyclic.utils.config import ConfigError

EXIT_INPUTS_FAILED = 1
EXIT_BAD_SETUP = 2
EXIT_OUTPUT_NOT_WRITABLE = 3
EXIT_INTERRUPTED = 130


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Segment nuclei with a trained mmcyclic model (tiled, any image size)')
    parser.add_argument('config', help='model config, e.g. configs/mask_rcnn_r18_synthetic.py')
    parser.add_argument('checkpoint', help='trained weights (.pth)')
    parser.add_argument('inputs', nargs='+', metavar='INPUT',
                        help='image files, folders (their images) or quoted globs')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--format', default='geojson,labels',
                        help=f'comma-separated subset of {",".join(FORMATS)} '
                        '(default: %(default)s)')
    parser.add_argument('--label-format', choices=['tif', 'png', 'npy'], default='tif',
                        help='label map file type: uint32 TIFF, uint16 PNG (TIFF when ids exceed '
                        '65535) or NumPy (default: %(default)s)')
    parser.add_argument('--tile-size', type=int,
                        help='tile side in pixels (default: config or 256)')
    parser.add_argument('--overlap', type=int,
                        help='minimum tile overlap, >= the largest nucleus diameter '
                        '(default: config or 64)')
    parser.add_argument('--batch-size', type=int,
                        help='tiles per forward pass (default: config or 4)')
    parser.add_argument('--score-thr', type=float,
                        help='minimum score (default: the config\'s inference.score_thr, else '
                        'its test_evaluator.score_thr, else 0.5)')
    parser.add_argument('--min-area', type=int,
                        help='drop nuclei of fewer pixels (default: the config\'s '
                        'inference.min_area, else 1)')
    parser.add_argument('--max-pixels', type=int,
                        help='refuse images whose header declares more pixels, before reading '
                        'them (default: the config\'s inference.max_pixels, else 100000000)')
    parser.add_argument('--device', default='cpu',
                        help='cpu, cuda, cuda:1, ... (default: %(default)s)')
    parser.add_argument('--no-progress', action='store_true', help='do not draw progress bars')
    args = parser.parse_args(argv)
    args.format = [f.strip() for f in args.format.split(',') if f.strip()]
    unknown = sorted(set(args.format) - set(FORMATS))
    if unknown or not args.format:
        parser.error(f'--format: unknown {unknown}; choose from {",".join(FORMATS)}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Segment the inputs; return the exit status (see the module docstring)."""
    args = parse_args(argv)
    try:
        check_output_dir(args.out)
    except OutputDirError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return EXIT_OUTPUT_NOT_WRITABLE
    try:
        segmenter = NucleiSegmenter(args.config, args.checkpoint, device=args.device,
                                    tile_size=args.tile_size, overlap=args.overlap,
                                    batch_size=args.batch_size, score_thr=args.score_thr,
                                    min_area=args.min_area, max_pixels=args.max_pixels)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return EXIT_BAD_SETUP
    try:
        failures = segment_files(segmenter, args.inputs, args.out, args.format,
                                 label_suffix=f'.{args.label_format}',
                                 progress=not args.no_progress)
    except KeyboardInterrupt:
        print('Interrupted: the files already written are complete; the rest are missing.',
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if failures:
        print(f'{len(failures)} input(s) failed:', file=sys.stderr)
        for name, reason in failures:
            print(f'  {name}: {reason}', file=sys.stderr)
    return EXIT_INPUTS_FAILED if failures else 0


if __name__ == '__main__':
    sys.exit(main())
