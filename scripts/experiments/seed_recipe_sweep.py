"""Score seed recipes on cached relevance maps of images with ground truth (no classifier).

Every recipe of a named grid is applied to the maps in ``--relevance`` (``NAME.npy``, as saved
by ``tools/extract_seeds.py --relevance-dir``) and scored against ``data_root/labels/NAME.*``
(precision and recall at IoU >= 0.5, mean IoU of matched seeds, pixel precision, hit rate;
``mmcyclic.seeds.quality``). With several ``--relevance`` folders the maps of one image are
averaged (test-time augmentation: the plain map and the flipped/rotated ones of
``scripts/experiments/cache_relevance_variants.py``). Use it on *training* images to choose a
recipe; the chosen recipe is then reported once on the test images with
``tools/extract_seeds.py``.

    python scripts/experiments/seed_recipe_sweep.py data/monuseg \
        --relevance work_dirs/i14/rel_plain_train work_dirs/i14/rel_plain_val \
        --grid stage1 --out work_dirs/i14/sweep_stage1.json
"""
import argparse
import itertools
from pathlib import Path
from typing import Dict, List

import numpy as np

from mmcyclic.datasets.io import IMAGE_SUFFIXES, LABEL_SUFFIXES, read_image, read_label_map
from mmcyclic.seeds.quality import seed_quality, summarise_quality
from mmcyclic.seeds.recipe import SeedRecipe
from mmcyclic.utils.atomic import atomic_write_json


def _product(**axes) -> List[Dict]:
    """Every combination of the axes, each over the paper preset (fields not named keep the
    paper's values, whatever the library default is)."""
    return [dict(preset='paper', **dict(zip(axes, values)))
            for values in itertools.product(*axes.values())]


GRIDS: Dict[str, List[Dict]] = {
    # relevance outlines: joining, size and shape priors, ranking
    'relevance': [dict(preset='paper'), dict(preset='paper', selection='score')] + _product(
        smooth_sigma=(0.0, 2.0), closing_radius=(0, 2, 4), core_min_area=(0, 40),
        min_area=(30, 150), max_area=(1500,), min_solidity=(0.0, 0.85), selection=('score',)),
    # stain outlines: the hematoxylin blob under a relevance component
    'hematoxylin': _product(outline=('hematoxylin',), min_area=(80,), max_area=(1500,)) + _product(
        outline=('hematoxylin',), threshold=(0.2, 0.35, 0.5), stain_smooth_sigma=(1.0, 2.0),
        min_area=(80, 150), max_area=(800, 1500), min_solidity=(0.0, 0.9),
        selection=('score',)),
    # around the best of 'hematoxylin' (theta 0.2-0.5 made no difference there)
    'hematoxylin_fine': _product(
        outline=('hematoxylin',), stain_smooth_sigma=(0.5, 1.0), min_area=(150, 200, 250),
        max_area=(1500,), min_solidity=(0.9, 0.93, 0.95), selection=('score',)),
    # is the relevance needed? the same blobs chosen at random, or with no relevance at all
    'controls': _product(outline=('hematoxylin',), threshold=(0.35, 0.0), min_area=(150,),
                         max_area=(1500,), min_solidity=(0.9,), selection=('random',)),
    # the presets, e.g. on other relevance maps (test-time augmentation, 64 px windows)
    'presets': [dict(preset='paper'), dict(preset='paper', selection='score'), dict()],
    # issue 24: recipes where the classifier's relevance decides which stain blobs are seeds
    # (score with --control-relevance, an untrained classifier's maps of the same images)
    'signal': [dict()] + [
        dict(threshold=theta, min_coverage=coverage, smooth_sigma=sigma, min_solidity=solidity,
             min_area=150, max_area=1500)
        for theta, coverage, sigma, solidity in itertools.product(
            (0.2, 0.35, 0.5), (0.0, 0.3, 0.5, 0.7), (0.0, 2.0), (0.8, 0.93))] + [
        dict(preset='paper', smooth_sigma=sigma, min_area=150, max_area=1500,
             min_solidity=solidity, selection='score', threshold=theta)
        for theta, sigma, solidity in itertools.product((0.2, 0.35, 0.5), (2.0, 3.0), (0.0, 0.85))],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='folder with images/ and labels/')
    parser.add_argument('--relevance', nargs='+', required=True,
                        help='folders of NAME.npy maps; several for the same images: averaged')
    parser.add_argument('--control-relevance', nargs='+',
                        help='maps of the same images from an untrained classifier: each recipe '
                        'is scored on them too (precision gap = what the image-level labels add)')
    parser.add_argument('--grid', nargs='+', choices=sorted(GRIDS), default=sorted(GRIDS))
    parser.add_argument('--out', help='write every setting and its summary here (JSON)')
    return parser.parse_args()


def _find(folder: Path, name: str, suffixes) -> Path:
    for suffix in suffixes:
        if (folder / (name + suffix)).is_file():
            return folder / (name + suffix)
    raise FileNotFoundError(f'{folder}: no file for {name} ({"/".join(suffixes)})')


def load_maps(folders: List[str]) -> Dict[str, np.ndarray]:
    """``{name: map}``, averaging over folders that hold the same names (TTA)."""
    groups: Dict[str, List[np.ndarray]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob('*.npy')):
            groups.setdefault(path.stem, []).append(np.load(path))
    counts = {len(v) for v in groups.values()}
    if len(counts) > 1:
        raise SystemExit(f'ERROR: the folders {folders} do not hold the same images')
    return {name: np.mean(maps, axis=0) for name, maps in groups.items()}


def score_recipe(recipe: Dict, maps: Dict, labels: Dict, images: Dict) -> Dict:
    """Micro-averaged seed quality of ``recipe`` over every image of ``maps``."""
    make_seeds = SeedRecipe(recipe)
    per_image = {n: seed_quality(make_seeds(maps[n], key=n, image=images.get(n)).label_map,
                                 labels[n]) for n in maps}
    return summarise_quality(per_image)


def main() -> None:
    args = parse_args()
    root = Path(args.data_root)
    maps = load_maps(args.relevance)
    labels = {n: read_label_map(_find(root / 'labels', n, LABEL_SUFFIXES)) for n in maps}
    images = {n: read_image(_find(root / 'images', n, IMAGE_SUFFIXES)) for n in maps}
    control = load_maps(args.control_relevance) if args.control_relevance else None
    if control is not None and set(control) != set(maps):
        raise SystemExit('ERROR: --control-relevance must hold the images of --relevance')
    print(f'{len(maps)} images: {sorted(maps)}')
    print('| recipe | precision | recall | mean IoU | pixel precision | hit rate | seeds |'
          + (' untrained precision | untrained seeds |' if control else '') + '\n'
          '|---|---|---|---|---|---|---|' + ('---|---|' if control else ''), flush=True)
    results = []
    for recipe in (r for name in args.grid for r in GRIDS[name]):
        s = score_recipe(recipe, maps, labels, images)
        result = dict(recipe=recipe, summary=s)
        line = (f"| {recipe} | {s['precision']:.3f} | {s['recall']:.4f} | {s['mean_iou']:.3f} "
                f"| {s['pixel_precision']:.3f} | {s['hit_rate']:.3f} | {s['seeds']} |")
        if control is not None:
            c = result['untrained'] = score_recipe(recipe, control, labels, images)
            line += f" {c['precision']:.3f} | {c['seeds']} |"
        results.append(result)
        print(line, flush=True)
    if args.out:
        atomic_write_json(args.out, dict(images=sorted(maps), relevance=args.relevance,
                                         control_relevance=args.control_relevance,
                                         settings=results), indent=1)


if __name__ == '__main__':
    main()
