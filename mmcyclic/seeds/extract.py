"""Seed extraction: classifier + relevance + recipe -> a seed set of whole images.

:func:`extract_seed_set` is the one call the cycle loop makes: for every
whole training image it computes the tiled relevance map
(:func:`mmcyclic.relevance.tiled_relevance`), applies the
:class:`~mmcyclic.seeds.recipe.SeedRecipe` and writes the seed set
(a :class:`~mmcyclic.datasets.label_sets.LabelSet`) atomically. Relevance maps can be kept as
``.npy`` (``relevance_dir``) and reused, so trying other recipe parameters
(a threshold sweep) does not run the classifier again.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch import nn

from mmcyclic.datasets.io import ImageReadError, read_image
from mmcyclic.datasets.label_sets import LabelSet, seed_set_from_label_maps
from mmcyclic.relevance import BaseRelevance, build_relevance, tiled_relevance
from mmcyclic.utils.atomic import atomic_open
from mmcyclic.utils.progress import Progress

from .recipe import SeedRecipe, SeedResult

PathLike = Union[str, os.PathLike]


@dataclass
class SeedExtraction:
    """What :func:`extract_seed_set` produced.

    Attributes:
        seeds (LabelSet): The seed set as written (``info`` holds ``num_seeds``
            and ``images_without_seeds``).
        results (dict[str, SeedResult]): ``{source_id: SeedResult}`` of every readable image.
        unreadable (dict[str, str]): ``{source_id: reason}`` of images that could not be read.
        controls (dict[str, dict[str, SeedResult]]): ``{control: {source_id: SeedResult}}``:
            the seeds of the control recipes (``extract_seed_set(control_recipes=...)``, on the
            same relevance maps) and of other classifiers (:mod:`mmcyclic.seeds.controls`);
            scored beside the seeds by :func:`~mmcyclic.seeds.report.seed_quality_report`.
    """

    seeds: LabelSet
    results: Dict[str, SeedResult] = field(default_factory=dict)
    unreadable: Dict[str, str] = field(default_factory=dict)
    controls: Dict[str, Dict[str, SeedResult]] = field(default_factory=dict)


def load_classifier(config: Any, checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> nn.Module:
    """Build the mmpretrain ``ImageClassifier`` of a config and load its weights.

    Args:
        config: Config path or ``mmengine.Config`` with a ``model`` entry.
        checkpoint: Checkpoint file (None: keep the initial weights).
        device: Torch device.
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    cfg = Config.fromfile(config) if isinstance(config, (str, os.PathLike)) else config
    # An ImageClassifier must be built in the mmpretrain scope (its data
    # preprocessor is looked up there), whatever scope is current.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def _relevance_path(relevance_dir: Optional[PathLike], source_id: str) -> Optional[str]:
    return None if relevance_dir is None else osp.join(relevance_dir, f'{source_id}.npy')


def image_relevance(relevance: BaseRelevance, image: np.ndarray, *, tile_size: int = 224,
                    min_overlap: int = 64, batch_size: int = 8,
                    image_scale: float = 1.0) -> np.ndarray:
    """Whole-image relevance map with the model's device and no autograd graph kept."""
    device = next(relevance.model.parameters()).device
    return tiled_relevance(image, lambda tiles: relevance(tiles.to(device)), tile_size,
                           min_overlap, batch_size, image_scale)


def extract_seed_set(classifier: Optional[nn.Module],
                     relevance: Union[BaseRelevance, Dict[str, Any], None],
                     recipe: Union[SeedRecipe, Dict[str, Any]],
                     image_infos: List[Dict[str, Any]],
                     data_root: PathLike,
                     out_path: PathLike,
                     *,
                     tile_size: int = 224,
                     min_overlap: int = 64,
                     batch_size: int = 8,
                     image_scale: float = 1.0,
                     cycle: int = 0,
                     round: int = 0,  # noqa: A002 - the name of the info field
                     info: Optional[Dict[str, Any]] = None,
                     relevance_dir: Optional[PathLike] = None,
                     reuse_relevance: bool = False,
                     progress: bool = True,
                     control_recipes: Optional[Dict[str, SeedRecipe]] = None) -> SeedExtraction:
    """Compute seeds for whole images and write them as a seed set.

    Args:
        classifier: The trained front-end classifier (may be None when every
            relevance map is reused from ``relevance_dir``).
        relevance: A relevance method, or its config (built on ``classifier``).
        recipe: A :class:`SeedRecipe` or its config dict.
        image_infos: COCO image entries of the whole training images
            (:func:`mmcyclic.datasets.label_sets.load_image_infos`).
        data_root: Folder the entries' ``file_name`` is relative to.
        out_path: Seed-set json to write.
        tile_size: Relevance window (the classifier input, 224 in the paper).
        min_overlap: Smallest overlap of neighbouring windows.
        batch_size: Windows per relevance call.
        image_scale: Resize factor of the images before tiling.
        cycle: Cycle index written into ``info``.
        round: Self-training round written into ``info``.
        info: Extra ``info`` fields (e.g. the checkpoint path).
        relevance_dir: Save each image's relevance map here as ``<source_id>.npy``.
        reuse_relevance: Load maps from ``relevance_dir`` when present
            instead of computing them (same classifier assumed).
        progress: Show a progress bar (:class:`~mmcyclic.utils.progress.Progress`).
        control_recipes: ``{name: recipe}`` applied to the same relevance maps (e.g. the
            recipe with random instead of relevance-ranked selection); their seeds go to
            ``SeedExtraction.controls[name]``, not into the seed set.

    Returns:
        A :class:`SeedExtraction`.
    """
    recipe = recipe if isinstance(recipe, SeedRecipe) else SeedRecipe(recipe)
    relevance_cfg = relevance if isinstance(relevance, dict) else None
    if isinstance(relevance, dict):
        relevance = build_relevance(relevance, classifier)
    results: Dict[str, SeedResult] = {}
    control_recipes = dict(control_recipes or {})
    controls: Dict[str, Dict[str, SeedResult]] = {name: {} for name in control_recipes}
    unreadable: Dict[str, str] = {}
    seeds: Dict[int, tuple] = {}
    bar = Progress(len(image_infos), progress, desc='seeds', unit='image')
    with torch.no_grad() if relevance is None else relevance.attached():
        for img in image_infos:
            source_id = str(img.get('source_id', osp.splitext(osp.basename(img['file_name']))[0]))
            cached = _relevance_path(relevance_dir, source_id)
            try:
                image = None
                if recipe.needs_image or any(c.needs_image for c in control_recipes.values()):
                    image = read_image(osp.join(data_root, img['file_name']))
                if reuse_relevance and cached and osp.isfile(cached):
                    rel_map = np.load(cached)
                elif relevance is None:
                    raise FileNotFoundError(
                        f'{cached}: no saved relevance map for {source_id} and no relevance '
                        'method given; run without reuse_relevance to compute it')
                else:
                    if image is None:
                        image = read_image(osp.join(data_root, img['file_name']))
                    rel_map = image_relevance(relevance, image, tile_size=tile_size,
                                              min_overlap=min_overlap, batch_size=batch_size,
                                              image_scale=image_scale)
                    if cached:
                        with atomic_open(cached, 'wb') as handle:
                            np.save(handle, rel_map.astype(np.float32))
            except ImageReadError as error:
                unreadable[source_id] = str(error)
                print_log(f'seed extraction: skipped {source_id}: {error}', logger='current',
                          level=30)
            else:
                result = recipe(rel_map, key=source_id, image=image)
                results[source_id] = result
                seeds[img['id']] = (result.label_map, result.scores)
                for name, control in control_recipes.items():
                    controls[name][source_id] = control(rel_map, key=source_id, image=image)
            bar.update()
    bar.close()
    full_info = {'cycle': cycle, 'round': round, 'recipe': recipe.config.to_dict(),
                 'relevance': relevance_cfg or {'type': type(relevance).__name__},
                 'tiling': {'tile_size': tile_size, 'min_overlap': min_overlap,
                            'image_scale': image_scale},
                 'unreadable_images': unreadable, **dict(info or {})}
    seed_set = seed_set_from_label_maps(image_infos, seeds, full_info)
    seed_set.save(out_path)
    empty = seed_set.info['images_without_seeds']
    if empty:
        print_log(f'{out_path}: {len(empty)} of {len(image_infos)} images have no seed '
                  f'(no relevance above theta={recipe.config.threshold} passed the filters): '
                  f'{", ".join(map(str, empty))}', logger='current', level=30)
    return SeedExtraction(seed_set, results, unreadable, controls)
