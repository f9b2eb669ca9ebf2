"""Extract pseudo-mask seeds from whole training images with a trained classifier.

Usage::

    python tools/extract_seeds.py CONFIG CHECKPOINT --out SEEDS.json \
        [--images-ann data/monuseg/annotations/instances_train_full.json] \
        [--report-dir DIR] [--threshold 0.35] [--max-seeds 20] [--reuse-relevance]

The relevance method and the recipe come from the config's ``relevance`` and
``seed_recipe`` entries (defaults: LRP on the positive class, the ``'default'``
recipe of ``mmcyclic/seeds/recipe.py``); options given here override them
(``--preset paper``: the paper's recipe). With ``--report-dir`` the relevance
maps are kept there (``relevance/*.npy``, or in ``--relevance-dir``;
``--reuse-relevance`` then skips the classifier, e.g. for a threshold sweep)
and, where the images have ground truth, a seed-quality report is written
(``seed_quality.json``, ``seed_quality.md``: precision, recall, mean IoU, pixel
precision, hit rate) with overlay PNGs of the first ``--overlays`` images;
without ground truth the report is skipped. Beside the seeds the report scores two controls
(``mmcyclic/seeds/controls.py``): the same recipe on the relevance of an untrained classifier
of the same config (initialised with ``--seed-init``), and K drawn at random instead of the K
most relevant (``--no-controls``: skip them; the untrained classifier costs one more
relevance pass, its maps kept in ``--control-relevance-dir``).
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.datasets.label_sets import load_image_infos
from mmcyclic.seeds import SeedRecipe, extract_seed_set, load_classifier, seed_quality_report
from mmcyclic.seeds.controls import (add_untrained_classifier_control, random_selection_recipes,
                                     untrained_classifier)
from mmcyclic.utils.config import ConfigError, load_config
from mmcyclic.utils.tool_errors import add_debug_argument, exit_on_user_error

RECIPE_OPTIONS = {'preset': str, 'threshold': float, 'normalisation': str, 'percentile': float,
                  'smooth_sigma': float, 'closing_radius': int, 'core_min_area': int,
                  'connectivity': int, 'outline': str, 'stain_smooth_sigma': float,
                  'min_coverage': float, 'min_solidity': float, 'min_area': int,
                  'max_area': int, 'max_seeds': int,
                  'selection': str, 'seed': int}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Extract seeds (pseudo masks) with a classifier')
    parser.add_argument('config', help='classifier config (with relevance/seed_recipe entries)')
    parser.add_argument('checkpoint', help='trained classifier checkpoint, or "untrained": the '
                        'config\'s initialisation under --seed-init (a control)')
    parser.add_argument('--out', required=True, help='seed-set json to write')
    parser.add_argument('--images-ann',
                        default='data/monuseg/annotations/instances_train_full.json',
                        help='whole-image COCO file of the segmentation training split')
    parser.add_argument('--data-root', help='folder of the images (default: the folder above '
                        'the annotation file\'s folder)')
    parser.add_argument('--report-dir',
                        help='keep relevance maps and write the quality report here')
    parser.add_argument('--relevance-dir',
                        help='save relevance maps here (default: REPORT_DIR/relevance)')
    parser.add_argument('--reuse-relevance', action='store_true',
                        help='load the maps saved in the relevance dir instead of recomputing')
    parser.add_argument('--overlays', type=int, default=2, help='overlay PNGs to write')
    parser.add_argument('--tile-size', type=int, default=224)
    parser.add_argument('--min-overlap', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--image-scale', type=float, default=1.0,
                        help='resize images by this factor before explaining them')
    parser.add_argument('--cycle', type=int, default=0)
    parser.add_argument('--round', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-controls', action='store_true',
                        help='do not score the untrained-classifier and random-K controls')
    parser.add_argument('--control-relevance-dir',
                        help='keep (and reuse) the untrained control classifier\'s maps here '
                        '(default: REPORT_DIR/untrained_classifier/relevance; one folder serves '
                        'several recipes)')
    parser.add_argument('--seed-init', type=int, default=0,
                        help='random seed of the untrained control classifier (the training '
                        'seed of the classifier explained)')
    for name, kind in RECIPE_OPTIONS.items():
        parser.add_argument(f'--{name.replace("_", "-")}', type=kind, dest=name,
                            help=f'seed recipe: {name} (mmcyclic/seeds/recipe.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with exit_on_user_error(args.debug):
        extract(args)


def extract(args: argparse.Namespace) -> None:
    """Extract the seeds (and the report) that ``args`` ask for."""
    try:
        cfg = load_config(args.config, args.cfg_options)
        image_infos = load_image_infos(args.images_ann)
    except (ConfigError, ValueError) as error:
        sys.exit(f'ERROR: {error}')
    if args.checkpoint != 'untrained' and not osp.isfile(args.checkpoint):
        sys.exit(f'ERROR: {args.checkpoint}: checkpoint not found. Train the classifier first: '
                 f'python tools/train.py {args.config}')
    relevance_dir = args.relevance_dir or (
        osp.join(args.report_dir, 'relevance') if args.report_dir else None)
    if args.reuse_relevance and not relevance_dir:
        sys.exit('ERROR: --reuse-relevance needs --relevance-dir or --report-dir (where the maps '
                 'were saved)')
    data_root = args.data_root or osp.dirname(osp.dirname(osp.abspath(args.images_ann)))
    recipe_cfg = dict(cfg.get('seed_recipe', {}))
    recipe_cfg.update({k: getattr(args, k) for k in RECIPE_OPTIONS if getattr(args, k) is not None})
    recipe = SeedRecipe(recipe_cfg)
    relevance_cfg = dict(cfg.get('relevance', dict(type='LRP')))
    classifier = (untrained_classifier(cfg, args.seed_init, args.device)
                  if args.checkpoint == 'untrained'
                  else load_classifier(cfg, args.checkpoint, args.device))
    tiling = dict(tile_size=args.tile_size, min_overlap=args.min_overlap,
                  batch_size=args.batch_size, image_scale=args.image_scale)
    controls = bool(args.report_dir) and not args.no_controls and any(
        img.get('label_map') for img in image_infos)
    extraction = extract_seed_set(
        classifier, relevance_cfg, recipe, image_infos, data_root, args.out,
        cycle=args.cycle, round=args.round,
        info={'classifier_config': args.config, 'classifier_checkpoint': args.checkpoint,
              'images_ann': args.images_ann},
        relevance_dir=relevance_dir, reuse_relevance=args.reuse_relevance,
        control_recipes=random_selection_recipes(recipe) if controls else None, **tiling)
    if controls:
        add_untrained_classifier_control(
            extraction, cfg, args.seed_init, relevance_cfg, recipe, image_infos, data_root,
            osp.join(args.report_dir, 'untrained_classifier'),
            args.control_relevance_dir
            or osp.join(args.report_dir, 'untrained_classifier', 'relevance'), **tiling)
    info = extraction.seeds.info
    print(f'{args.out}: {info["num_seeds"]} seeds on {len(image_infos)} images '
          f'({len(info["images_without_seeds"])} without seeds, '
          f'{len(extraction.unreadable)} unreadable)')
    if args.report_dir:
        seed_quality_report(extraction, image_infos, data_root, args.report_dir, recipe,
                            relevance_dir, args.overlays)


if __name__ == '__main__':
    main()
