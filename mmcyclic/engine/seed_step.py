"""Unit 2 of a cycle (Fig. 1): the seed set M of the cycle's self-training.

Fresh seeds every cycle, from the relevance maps of the cycle's classifier f^C
on the whole training images (``source='relevance'``, the paper), or K
ground-truth nuclei per image (``source='ground_truth'``, Table V: uses pixel
labels). Rank 0 extracts and writes ``cycle_i/seeds.json``; every rank gets
the unit's record.
"""
import dataclasses
import os.path as osp
from typing import Any, Callable, Dict, List, Optional

import numpy as np
from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list, get_rank, get_world_size
from mmengine.runner import set_random_seed

from mmcyclic.datasets.label_sets import load_image_infos, subsample_ground_truth
from mmcyclic.seeds import SeedRecipe, extract_seed_set, load_classifier
from mmcyclic.seeds.controls import add_untrained_classifier_control, random_selection_recipes
from mmcyclic.seeds.recipe import SeedRecipeConfig
from mmcyclic.utils.config import ConfigError, check_keys

from .value_ranges import SEEDS_RANGES, check_values

SEED_SOURCES = ('relevance', 'ground_truth')
SEEDS_KEYS = ('images_ann', 'source', 'k', 'relevance', 'recipe', 'tile_size', 'min_overlap',
              'batch_size', 'image_scale', 'keep_relevance', 'controls')
SEED_RECIPE_KEYS = tuple(f.name for f in dataclasses.fields(SeedRecipeConfig))


def cycle_recipe(recipe: SeedRecipe, training_seed: int, cycle: int) -> SeedRecipe:
    """The recipe of one cycle of one run: its random draws (``selection='random'``, the
    paper's K) depend on the recipe's own ``seed``, the training seed and the cycle.

    Args:
        recipe (SeedRecipe): The configured recipe.
        training_seed (int): The run's ``randomness.seed``.
        cycle (int): The cycle (1-based).
    """
    entropy = [int(recipe.config.seed), int(training_seed), int(cycle)]
    draw_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return SeedRecipe(recipe.config.to_dict(), seed=draw_seed)


class SeedStep:
    """Makes the seed set of one cycle and returns the unit's record.

    Construction checks ``seeds`` (keys, source, the merged recipe's values), so a
    misspelt key stops the run before any work.

    Args:
        runner (Runner): The cycle's runner: its seed, logger and hooks
            (``after_seed_extraction``) are used.
        seeds (dict, optional): ``train_cfg.seeds`` (see :class:`CyclicLoop`).
        classifier_config (Callable[[], Config]): Loads the classifier config, whose
            ``seed_recipe`` and ``relevance`` are the defaults of ``seeds``.
        data_root (str): The detector's training data root; ``images_ann`` defaults to
            ``<data_root>/annotations/instances_train_full.json``.

    Raises:
        ConfigError: An unknown key in ``seeds`` or ``seeds.recipe``, an unknown
            ``source``, or a bad recipe value.
    """

    def __init__(self, runner, seeds: Optional[Dict[str, Any]],
                 classifier_config: Callable[[], Config], data_root: str) -> None:
        self.runner = runner
        self.cfg = dict(seeds or {})
        self.source = self.cfg.get('source', 'relevance')
        if self.source not in SEED_SOURCES:
            raise ConfigError(f'train_cfg.seeds.source must be one of {SEED_SOURCES}')
        check_keys(self.cfg, SEEDS_KEYS, 'train_cfg.seeds')
        check_keys(self.cfg.get('recipe') or {}, SEED_RECIPE_KEYS, 'train_cfg.seeds.recipe')
        check_values(self.cfg, SEEDS_RANGES, 'train_cfg.seeds')
        self.classifier_config = classifier_config
        self.data_root = data_root
        # Values too, before any work: the merged recipe of the classifier config and seeds.recipe.
        self.recipe = self._merged_recipe()

    def _merged_recipe(self) -> SeedRecipe:
        """The classifier config's ``seed_recipe`` overridden key by key by ``seeds.recipe``."""
        merged = {**self.classifier_config().get('seed_recipe', {}),
                  **(self.cfg.get('recipe') or {})}
        try:
            return SeedRecipe(merged)
        except (TypeError, ValueError) as error:
            raise ConfigError(f'train_cfg.seeds.recipe: {error}') from error

    def images_ann(self) -> str:
        """The whole-image COCO file of the training images the seeds are made on."""
        given = self.cfg.get('images_ann')
        if given is None:
            return osp.join(self.data_root, 'annotations', 'instances_train_full.json')
        return given if osp.isabs(given) or osp.isfile(given) else osp.join(self.data_root, given)

    def __call__(self, cycle: int, classifier_checkpoint: str, out_dir: str) -> Dict[str, Any]:
        """Write ``<out_dir>/seeds.json`` for ``cycle``.

        Args:
            cycle (int): The cycle (1-based).
            classifier_checkpoint (str): The cycle's f^C (relevance seeds).
            out_dir (str): The cycle's folder.

        Returns:
            Dict[str, Any]: ``file``, ``source``, ``num_seeds``, ``num_images``,
            ``images_without_seeds``, ``unreadable_images`` (and ``k`` for ground truth).
        """
        out = osp.join(out_dir, 'seeds.json')
        images_ann = self.images_ann()
        record: List[Dict[str, Any]] = [{}]
        if get_rank() == 0:
            if self.source == 'ground_truth':
                record[0] = self._ground_truth_seeds(cycle, images_ann, out)
            else:
                record[0] = self._relevance_seeds(cycle, classifier_checkpoint, images_ann,
                                                  out_dir, out)
        broadcast_object_list(record)
        barrier()
        return record[0]

    def _relevance_seeds(self, cycle: int, classifier_checkpoint: str, images_ann: str,
                         out_dir: str, out: str) -> Dict[str, Any]:
        # The data root of the whole images: the folder above annotations/.
        data_root = osp.dirname(osp.dirname(osp.abspath(images_ann)))
        cls_cfg = self.classifier_config()
        relevance = dict(self.cfg.get('relevance') or cls_cfg.get('relevance', dict(type='LRP')))
        classifier = load_classifier(cls_cfg, classifier_checkpoint)
        image_infos = load_image_infos(images_ann)
        relevance_dir = (osp.join(out_dir, 'relevance')
                         if self.cfg.get('keep_relevance', False) else None)
        self.runner.logger.info(f'cyclic: cycle {cycle} seeds from {relevance["type"]} on '
                                f'{len(image_infos)} images -> {out}')
        recipe = cycle_recipe(self.recipe, self.runner.seed, cycle)
        tiling = dict(tile_size=self.cfg.get('tile_size', 224),
                      min_overlap=self.cfg.get('min_overlap', 64),
                      batch_size=self.cfg.get('batch_size', 8),
                      image_scale=self.cfg.get('image_scale', 1.0))
        # Controls need ground truth to be scored against (benchmarks, simulated labels).
        controls = self.cfg.get('controls', True) and any(
            img.get('label_map') for img in image_infos)
        # Same seeds whether or not the run was resumed.
        set_random_seed(self.runner.seed + 1000 * cycle + 1)
        extraction = extract_seed_set(
            classifier, relevance, recipe, image_infos, data_root, out, cycle=cycle,
            info={'classifier_checkpoint': classifier_checkpoint, 'images_ann': images_ann,
                  'extracted_by_rank': get_rank(), 'world_size': get_world_size()},
            relevance_dir=relevance_dir,
            control_recipes=random_selection_recipes(recipe) if controls else None, **tiling)
        if controls:
            self.runner.logger.info(f'cyclic: cycle {cycle} control seeds from an untrained '
                                    'classifier (train_cfg.seeds.controls=False: off)')
            # The seed the cycle-1 classifier is initialised with (ClassifierStep).
            add_untrained_classifier_control(
                extraction, cls_cfg, self.runner.seed + 1000, relevance, recipe, image_infos,
                data_root, out_dir, osp.join(self.runner.work_dir, 'untrained_classifier',
                                             'relevance'), **tiling)
        self.runner.call_hook('after_seed_extraction', cycle=cycle, extraction=extraction,
                              image_infos=image_infos, data_root=data_root, recipe=recipe,
                              relevance_dir=relevance_dir, out_dir=out_dir)
        info = extraction.seeds.info
        return dict(file=out, source='relevance', num_seeds=info['num_seeds'],
                    num_images=len(image_infos),
                    images_without_seeds=len(info['images_without_seeds']),
                    unreadable_images=len(extraction.unreadable))

    def _ground_truth_seeds(self, cycle: int, images_ann: str, out: str) -> Dict[str, Any]:
        k = self.cfg.get('k', 20)
        seeds = subsample_ground_truth(images_ann, k, seed=self.runner.seed)
        seeds.info.update(cycle=cycle, source='ground_truth', k=k)
        seeds.save(out)
        self.runner.logger.warning(
            f'cyclic: cycle {cycle} seeds are {k} GROUND-TRUTH nuclei per image (Table V '
            'setting; uses pixel labels)')
        return dict(file=out, source='ground_truth', k=k, num_seeds=len(seeds.annotations),
                    num_images=len(seeds.images),
                    images_without_seeds=seeds.count_empty_images(), unreadable_images=0)
