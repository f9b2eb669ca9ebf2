"""Honest check of a seed recipe chosen with ground truth: tune on half the images, report on
the rest.

Every recipe variant in docs/front_end.md section 5 was compared on the training GT, which a
weakly supervised run cannot do. This script splits the images whose relevance maps were saved
by ``tools/extract_seeds.py --report-dir`` into a tuning and a held-out half (sorted names,
first half tunes), picks the recipe with the best seed precision on the tuning half, and
prints its precision on the held-out half next to the paper recipe's.

    python scripts/experiments/seed_recipe_holdout.py work_dirs/seeds_r18/report/relevance \
        data/monuseg/labels --out work_dirs/seeds_r18/holdout.json
"""
import argparse
import itertools
from pathlib import Path
from typing import Dict, List

import numpy as np

from mmcyclic.datasets.io import LABEL_SUFFIXES, read_label_map
from mmcyclic.seeds.quality import seed_quality, summarise_quality
from mmcyclic.seeds.recipe import SeedRecipe
from mmcyclic.utils.atomic import atomic_write_json

GRID = dict(smooth_sigma=(0.0, 2.0, 3.0), min_area=(30, 100, 200, 300), max_area=(600, 1000, 2000),
            selection=('random', 'score'))
PAPER_RECIPE: Dict = dict(smooth_sigma=0.0, min_area=30, max_area=2000, selection='random')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('relevance_dir', help='folder of NAME.npy relevance maps')
    parser.add_argument('labels_dir', help='folder of NAME.png (or .tif/.npy) instance label maps')
    parser.add_argument('--out', help='write every setting and both halves here (JSON)')
    return parser.parse_args()


def _label_path(labels_dir: Path, name: str) -> Path:
    for suffix in LABEL_SUFFIXES:
        if (labels_dir / (name + suffix)).is_file():
            return labels_dir / (name + suffix)
    raise FileNotFoundError(f'{labels_dir}: no label map for {name} ({"/".join(LABEL_SUFFIXES)})')


def _seed_quality(recipe: Dict, names: List[str], maps: Dict, labels: Dict) -> Dict:
    """Seed quality of ``recipe`` summed over ``names`` (precision, recall, ...)."""
    make_seeds = SeedRecipe(**recipe)
    per_image = {n: seed_quality(make_seeds(maps[n], key=n).label_map, labels[n]) for n in names}
    return summarise_quality(per_image)


def main() -> None:
    args = parse_args()
    maps = {p.stem: np.load(p) for p in sorted(Path(args.relevance_dir).glob('*.npy'))}
    if len(maps) < 2:
        raise SystemExit(f'ERROR: {args.relevance_dir}: need at least 2 relevance maps (NAME.npy)')
    labels = {n: read_label_map(_label_path(Path(args.labels_dir), n)) for n in maps}
    names = list(maps)
    tune, held_out = names[:len(names) // 2], names[len(names) // 2:]
    settings = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    results = []
    for setting in settings:
        results.append(dict(recipe=setting, tune=_seed_quality(setting, tune, maps, labels)))
        print(f"{setting}: tuning precision {results[-1]['tune']['precision']:.3f}", flush=True)
    best = max(results, key=lambda r: r['tune']['precision'])
    best['held_out'] = _seed_quality(best['recipe'], held_out, maps, labels)
    references = {name: dict(recipe=recipe, tune=_seed_quality(recipe, tune, maps, labels),
                             held_out=_seed_quality(recipe, held_out, maps, labels))
                  for name, recipe in (('paper recipe', PAPER_RECIPE),
                                       ('paper recipe, score selection',
                                        dict(PAPER_RECIPE, selection='score')))}
    print(f'\ntuning images: {tune}\nheld-out images: {held_out}')
    print('| recipe | tuning precision | held-out precision | held-out seeds |\n|---|---|---|---|')
    for label, row in (('chosen on the tuning half', best), *references.items()):
        print(f"| {label}: {row['recipe']} | {row['tune']['precision']:.3f} | "
              f"{row['held_out']['precision']:.3f} | {row['held_out']['seeds']} |")
    if args.out:
        atomic_write_json(args.out, dict(tune=tune, held_out=held_out, settings=results,
                                         chosen=best, references=references), indent=1)


if __name__ == '__main__':
    main()
