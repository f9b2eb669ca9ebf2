"""Cache relevance maps of whole images under the variants the seed sweep compares.

Writes ``OUT/<variant>/<source_id>.npy`` for every image of ``--images-ann`` and every
``--variant``:

* ``hflip``, ``vflip``, ``rot90``: relevance of the flipped / rotated image, mapped back to
  the image's frame (average them with the plain map for test-time augmentation);
* ``tile64``: relevance explained in 64 px windows (the simulated tiles the classifier was
  trained on) instead of 224 px ones.

The plain map (224 px windows) is what ``tools/extract_seeds.py --relevance-dir`` saves.
``scripts/experiments/seed_recipe_sweep.py`` scores seed recipes on these maps without the
classifier::

    python scripts/experiments/cache_relevance_variants.py configs/classifier_r18_monu.py CKPT \
        --images-ann data/monuseg/annotations/instances_train_full.json \
        --out work_dirs/i14/variants --variant hflip vflip rot90 tile64
"""
import argparse
import os.path as osp
from typing import Callable, Dict, Tuple

import numpy as np

import mmcyclic  # noqa: F401  (registers modules)
from mmcyclic.datasets.io import read_image
from mmcyclic.datasets.label_sets import load_image_infos
from mmcyclic.relevance import build_relevance
from mmcyclic.seeds import image_relevance, load_classifier
from mmcyclic.utils.atomic import atomic_open
from mmcyclic.utils.config import load_config

Transform = Callable[[np.ndarray], np.ndarray]
# variant -> (image transform, inverse on the map, tile size, min overlap)
VARIANTS: Dict[str, Tuple[Transform, Transform, int, int]] = {
    'hflip': (lambda a: a[:, ::-1], lambda a: a[:, ::-1], 224, 64),
    'vflip': (lambda a: a[::-1], lambda a: a[::-1], 224, 64),
    'rot90': (lambda a: np.rot90(a, 1), lambda a: np.rot90(a, -1), 224, 64),
    'tile64': (lambda a: a, lambda a: a, 64, 16),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--images-ann', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--variant', nargs='+', choices=sorted(VARIANTS), required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config)
    classifier = load_classifier(cfg, args.checkpoint)
    relevance = build_relevance(dict(cfg.get('relevance', dict(type='LRP'))), classifier)
    data_root = osp.dirname(osp.dirname(osp.abspath(args.images_ann)))
    infos = load_image_infos(args.images_ann)
    with relevance.attached():
        for variant in args.variant:
            forward, inverse, tile_size, overlap = VARIANTS[variant]
            for img in infos:
                image = np.ascontiguousarray(forward(read_image(osp.join(data_root,
                                                                         img['file_name']))))
                rel = image_relevance(relevance, image, tile_size=tile_size, min_overlap=overlap,
                                      batch_size=32 if tile_size < 224 else 8)
                path = osp.join(args.out, variant, f"{img['source_id']}.npy")
                with atomic_open(path, 'wb') as handle:
                    np.save(handle, np.ascontiguousarray(inverse(rel)).astype(np.float32))
                print(variant, img['source_id'], flush=True)


if __name__ == '__main__':
    main()
