"""Write a synthetic whole slide (TIFF pyramid) and QuPath-style region annotations for it.

Example (the README's whole-slide walk-through)::

    python tools/make_synthetic_slide.py data/wsi_demo/demo.svs --size 4096 --kind svs \\
        --regions data/wsi_demo/demo.geojson

The slide is a mosaic of synthetic H&E tiles on glass (:mod:`mmcyclic.wsi.synthetic_slide`);
the regions are one QuPath annotation per tile lying wholly in tissue, of class
"Nuclei" or, for the nucleus-free tiles, "No nuclei", written as QuPath exports
them (a FeatureCollection of ``objectType: annotation`` Features).
"""
import argparse
import sys
from typing import List, Optional

import shapely

from mmcyclic.wsi.qupath import detection_feature, write_feature_collection
from mmcyclic.wsi.synthetic_slide import KINDS, SyntheticSlide, write_synthetic_slide

COLORS = {'Nuclei': (200, 0, 0), 'No nuclei': (0, 160, 0)}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write a synthetic slide and its regions')
    parser.add_argument('out', help='slide file (.svs, .tif, .ome.tif)')
    parser.add_argument('--size', type=int, default=4096, help='side in pixels (default: 4096)')
    parser.add_argument('--kind', choices=KINDS, default='svs')
    parser.add_argument('--mpp', type=float, default=0.25, help='µm per pixel (default: 0.25)')
    parser.add_argument('--tissue-fraction', type=float, default=0.3)
    parser.add_argument('--block', type=int, default=512, help='synthetic tile side')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--regions', help='also write QuPath region annotations (GeoJSON) here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    slide = SyntheticSlide(args.size, args.size, block=args.block, distinct=4, seed=args.seed,
                           tissue_fraction=args.tissue_fraction, empty_blocks=(3, ))
    write_synthetic_slide(args.out, slide, args.kind, args.mpp)
    print(f'{args.out}: {args.size} x {args.size} px at {args.mpp} µm/px ({args.kind})')
    if args.regions:
        features = []
        for (x, y, w, h), has_nuclei in slide.block_regions():
            name = 'Nuclei' if has_nuclei else 'No nuclei'
            feature = detection_feature(shapely.box(x, y, x + w, y + h), name, COLORS[name], {},
                                        object_type='annotation')
            del feature['properties']['measurements']
            features.append(feature)
        write_feature_collection(args.regions, features)
        print(f'{args.regions}: {len(features)} regions')
    return 0


if __name__ == '__main__':
    sys.exit(main())
