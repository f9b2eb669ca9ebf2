"""QuPath region annotations -> image-level labelled tiles for the classifier (pos/ + neg/ + CSV).

Example::

    python tools/qupath_tiles.py slides/ --annotations exports/ --out data/mytiles \\
        --pos-class "Nuclei" --neg-class "No nuclei" --ignore-class Artefact --mpp 0.25

Reads each slide's QuPath GeoJSON export (``<slide stem>.geojson[.gz]`` in the
``--annotations`` folder, or one file for one slide), cuts tiles of
``--tile-size`` at ``--mpp`` inside the regions and writes ``pos/``, ``neg/``,
``tiles.csv`` and ``summary.json`` (see :mod:`mmcyclic.wsi.region_tiles`),
then prints the counts per class and slide and every skipped object by reason.

Exit status: 0 on success; 1 when some slides could not be read (named);
2 for bad arguments, a slide without mpp, or no tile at all. See docs/whole_slides.md.
"""
import argparse
import sys
from typing import List, Optional

from mmcyclic.wsi.qupath import QuPathFileError
from mmcyclic.wsi.region_tiles import ClassMap, cut_region_tiles
from mmcyclic.wsi.resolution import ResolutionError
from mmcyclic.wsi.slide import BACKENDS
from mmcyclic.wsi.slide_inputs import collect_slides


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Cut labelled tiles from QuPath region '
                                     'annotations of whole slides')
    parser.add_argument('inputs', nargs='+', metavar='SLIDE', help='slide files, folders or globs')
    parser.add_argument('--annotations', required=True,
                        help='a QuPath GeoJSON export, or a folder of <slide stem>.geojson[.gz]')
    parser.add_argument('--out', required=True, help='output tile folder')
    parser.add_argument('--pos-class', action='append', default=[], required=True,
                        help='QuPath class of regions that contain target nuclei (repeatable)')
    parser.add_argument('--neg-class', action='append', default=[], required=True,
                        help='QuPath class of regions that contain none (repeatable)')
    parser.add_argument('--ignore-class', action='append', default=[],
                        help='regions whose tiles are left out (repeatable)')
    parser.add_argument('--mpp', type=float, default=0.25,
                        help='µm per pixel of the tiles, the classifier\'s scale '
                        '(default: %(default)s)')
    parser.add_argument('--tile-size', type=int, default=224, help='tile side (default: 224)')
    parser.add_argument('--stride', type=int, help='grid step (default: the tile size)')
    parser.add_argument('--min-coverage', type=float, default=0.9,
                        help='fraction of a tile inside its class\'s regions (default: 0.9)')
    parser.add_argument('--max-tiles-per-class', type=int,
                        help='at most this many tiles per label and slide (random, --seed)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--slide-mpp', type=float, help='µm per level-0 pixel of the slides')
    parser.add_argument('--backend', choices=BACKENDS, default='auto')
    parser.add_argument('--coordinates', choices=['qupath', 'slide'], default='qupath',
                        help='qupath: annotation coordinates relative to the slide bounds '
                        '(QuPath with OpenSlide); slide: file pixels (default: %(default)s)')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Cut the tiles; return the exit status (module docstring)."""
    args = parse_args(argv)
    slides, problems = collect_slides(args.inputs)
    for name, reason in problems:
        print(f'FAILED {name}: {reason}', file=sys.stderr)
    try:
        classes = ClassMap(tuple(args.pos_class), tuple(args.neg_class), tuple(args.ignore_class))
        report = cut_region_tiles(slides, args.annotations, args.out, classes, args.mpp,
                                  args.tile_size, args.stride, args.min_coverage,
                                  args.max_tiles_per_class, args.seed, args.slide_mpp,
                                  args.backend, args.coordinates, not args.no_progress)
    except (ValueError, ResolutionError, QuPathFileError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    if not report.tiles:
        print('ERROR: no tile was written; see the skipped objects and dropped tiles above',
              file=sys.stderr)
        return 2
    print(f'{sum(report.tiles.values())} tiles -> {args.out}/tiles.csv')
    return 1 if problems or report.failed_slides else 0


if __name__ == '__main__':
    sys.exit(main())
