"""Say what whole slides are before running any model: format, levels, mpp and its source, tissue.

Example::

    python tools/slide_info.py slides/*.svs [--backend auto] [--tissue] [--json]
    python tools/slide_info.py slides/ --tissue-out masks/   # also <stem>_tissue.png / .geojson

Exit status: 0 when every slide was read, 1 when some could not be (each is named).
See docs/whole_slides.md.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from mmcyclic.apis.result import trace_crop
from mmcyclic.datasets.io import write_image
from mmcyclic.wsi.qupath import detection_feature, snap_to_qupath_grid, write_feature_collection
from mmcyclic.wsi.slide import BACKENDS, SlideReadError, open_slide
from mmcyclic.wsi.slide_inputs import collect_slides
from mmcyclic.wsi.tissue import DEFAULT_MASK_MPP, detect_tissue


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Describe whole-slide images (no model needed)')
    parser.add_argument('inputs', nargs='+', metavar='SLIDE', help='slide files, folders or globs')
    parser.add_argument('--backend', choices=BACKENDS, default='auto', help='slide reader')
    parser.add_argument('--slide-mpp', type=float,
                        help='µm per level-0 pixel, if the file has none')
    parser.add_argument('--tissue', action='store_true', help='also detect tissue (area in mm²)')
    parser.add_argument('--tissue-out', help='write <stem>_tissue.png and <stem>_tissue.geojson '
                        '(a QuPath annotation of class "Tissue") here; implies --tissue')
    parser.add_argument('--mask-mpp', type=float, default=DEFAULT_MASK_MPP,
                        help='µm per pixel of the tissue mask (default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='one JSON object per slide')
    return parser.parse_args(argv)


def tissue_feature(mask: np.ndarray, downsample: float):
    """The mask as one QuPath annotation Feature (level-0 pixels), or ``None`` if empty."""
    polygons = []
    for part in trace_crop(mask, 0, 0):
        rings = [ring * downsample for ring in part]
        polygons.append(Polygon(rings[0], rings[1:]))
    if not polygons:
        return None
    geometry, _ = snap_to_qupath_grid(MultiPolygon(polygons) if len(polygons) > 1 else polygons[0])
    if geometry is None:
        return None
    return detection_feature(geometry, 'Tissue', (0, 160, 255), {}, object_type='annotation')


def describe(path: Path, args: argparse.Namespace) -> dict:
    """The facts about one slide (and its tissue)."""
    with open_slide(path, args.backend) as slide:
        mpp = slide.mpp.mean if slide.mpp else args.slide_mpp
        info = {'slide': str(path), 'backend': slide.backend, 'vendor': slide.vendor,
                'levels': [{'width': w, 'height': h, 'downsample': round(d, 4)}
                           for (w, h), d in zip(slide.level_dimensions, slide.level_downsamples)],
                'mpp': mpp, 'mpp_source': slide.mpp.source if slide.mpp else (
                    '--slide-mpp' if args.slide_mpp else None),
                'objective_power': slide.objective_power, 'bounds': slide.bounds,
                'quickhash': slide.quickhash()}
        if args.tissue or args.tissue_out:
            tissue = detect_tissue(slide, mpp, args.mask_mpp)
            info['tissue_mm2'] = tissue.area_mm2(mpp)
            info['tissue_fraction'] = round(float(tissue.mask.mean()), 4)
            info['tissue_threshold'] = round(tissue.threshold, 4)
            if args.tissue_out:
                out = Path(args.tissue_out)
                stem = path.name.split('.')[0]
                write_image(out / f'{stem}_tissue.png', np.repeat(tissue.to_png()[..., None], 3, 2))
                feature = tissue_feature(tissue.mask, tissue.downsample)
                write_feature_collection(out / f'{stem}_tissue.geojson',
                                         [feature] if feature else [])
    return info


def _print(info: dict) -> None:
    levels = ', '.join(f"{lv['width']}x{lv['height']} (/{lv['downsample']:g})"
                       for lv in info['levels'])
    mpp = (f"{info['mpp']:.4g} µm/px ({info['mpp_source']})" if info['mpp']
           else 'unknown (pass --slide-mpp to the other tools)')
    print(f"{info['slide']}\n  reader {info['backend']}, vendor {info['vendor']}\n"
          f"  levels {levels}\n  mpp {mpp}; objective {info['objective_power']}; "
          f"bounds {info['bounds']}\n  quickhash {info['quickhash'][:16]}")
    if 'tissue_mm2' in info:
        area = 'unknown (no mpp)' if info['tissue_mm2'] is None else f"{info['tissue_mm2']:.3f} mm²"
        print(f"  tissue {area}, {info['tissue_fraction']:.1%} of the slide")


def main(argv: Optional[List[str]] = None) -> int:
    """Describe the slides; return the exit status (module docstring)."""
    args = parse_args(argv)
    paths, problems = collect_slides(args.inputs)
    for name, reason in problems:
        print(f'FAILED {name}: {reason}', file=sys.stderr)
    failed = len(problems)
    for path in paths:
        try:
            info = describe(path, args)
        except SlideReadError as error:
            print(f'FAILED {error}', file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps(info))
        else:
            _print(info)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
