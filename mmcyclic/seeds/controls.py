"""Controls of a seed report: how much of the seeds' quality the image-level labels make.

A recipe's precision alone cannot tell a classifier that learnt the tiles from the recipe's own
priors (stain outlines, shape and size filters), which find nuclei without any classifier. Two
controls, scored beside the seeds wherever ground truth exists:

* ``untrained_classifier`` — the same recipe on the relevance of an *untrained* classifier of
  the same config (its initialisation, seeded by the training seed): what the seeds are when
  the image-level labels taught nothing;
* ``random_selection`` — the same recipe and relevance, K seeds drawn at random among the
  candidates instead of the K most relevant: what ranking by relevance adds (not defined for a
  recipe that already draws at random).
"""
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.runner import set_random_seed
from torch import nn

from .extract import SeedExtraction, extract_seed_set, load_classifier
from .recipe import SeedRecipe

UNTRAINED_CLASSIFIER = 'untrained_classifier'
RANDOM_SELECTION = 'random_selection'


def random_selection_recipes(recipe: SeedRecipe) -> Dict[str, SeedRecipe]:
    """``{'random_selection': recipe drawing K at random}``; empty when ``recipe`` already does.

    Args:
        recipe (SeedRecipe): The recipe of the seeds.
    """
    if recipe.config.selection == 'random':
        return {}
    return {RANDOM_SELECTION: SeedRecipe(recipe.config.to_dict(), selection='random')}


def untrained_classifier(config: Any, seed: int, device: str = 'cpu') -> nn.Module:
    """The classifier of ``config`` as its training starts: built and initialised
    (``init_weights``, so a ``Pretrained`` ``init_cfg`` is loaded) under ``seed``.

    Args:
        config: Classifier config path or ``mmengine.Config``.
        seed (int): Random seed of the initialisation (the run's training seed).
        device (str): Torch device.
    """
    set_random_seed(seed)
    model = load_classifier(config, None, device)
    model.init_weights()
    return model.eval()


def add_untrained_classifier_control(extraction: SeedExtraction, config: Any, seed: int,
                                     relevance: Dict[str, Any], recipe: SeedRecipe,
                                     image_infos: List[Dict[str, Any]], data_root: str,
                                     out_dir: str, relevance_dir: Optional[str] = None,
                                     **tiling: Any) -> SeedExtraction:
    """Seeds of the same recipe from an untrained classifier, into ``extraction.controls``.

    Args:
        extraction (SeedExtraction): The trained classifier's extraction (gets the control).
        config: The classifier config.
        seed (int): The training seed (the untrained classifier's initialisation).
        relevance (dict): The relevance method's config.
        recipe (SeedRecipe): The seeds' recipe.
        image_infos (list[dict]): The images the seeds were made on.
        data_root (str): Folder of the images.
        out_dir (str): Where the control's seed set goes (``seeds_untrained_classifier.json``).
        relevance_dir (str, optional): Keep (and reuse) the untrained classifier's relevance
            maps in ``<relevance_dir>/seed<seed>``: they depend only on the config and the seed.
        **tiling: ``tile_size``, ``min_overlap``, ``batch_size``, ``image_scale`` of
            :func:`extract_seed_set` (as the seeds').

    Returns:
        SeedExtraction: the control's own extraction (its seed set is a usable seed file).
    """
    classifier = untrained_classifier(config, seed)
    control = extract_seed_set(
        classifier, relevance, recipe, image_infos, data_root,
        osp.join(out_dir, f'seeds_{UNTRAINED_CLASSIFIER}.json'),
        info={'control': UNTRAINED_CLASSIFIER, 'init_seed': seed},
        relevance_dir=osp.join(relevance_dir, f'seed{seed}') if relevance_dir else None,
        reuse_relevance=relevance_dir is not None, **tiling)
    extraction.controls[UNTRAINED_CLASSIFIER] = control.results
    return control
