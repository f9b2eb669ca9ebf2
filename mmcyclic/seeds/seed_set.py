"""Seed sets on disk: COCO json of the seeds of whole training images.

A seed set is what the back-end trains on in a cycle. Conventions
(``docs/data_format.md``, plus):

* ``images``: the whole images of the segmentation training split, copied
  from ``instances_train_full.json`` with all their fields (``source_id``,
  ``label_map``, ``source_shape``, ...). Images without a seed keep their entry.
* ``annotations``: one per seed, COCO RLE, with ``score`` (mean normalised
  relevance) and ``source: "seed"``.
* ``info``: ``{"description", "source": "seed", "cycle", "round", "recipe":
  {...}, "relevance": {...}, "num_seeds", "images_without_seeds": [ids], ...}``.

Files are written atomically; mmdet reads them with
:class:`mmcyclic.datasets.NucleiDataset` like any other annotation file.
"""
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from mmcyclic.datasets.coco_format import (annotations_to_label_map, label_map_to_annotations,
                                           make_coco, write_coco)

PathLike = Union[str, os.PathLike]
SEED_SOURCE = 'seed'


def load_image_infos(ann_file: PathLike) -> List[Dict[str, Any]]:
    """Image entries of a whole-image COCO file (e.g. ``instances_train_full.json``)."""
    try:
        with open(ann_file, encoding='utf-8') as handle:
            coco = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'{ann_file}: cannot read a COCO json ({error}). Give the whole-image '
                         'file of the training split, e.g. '
                         'data/monuseg/annotations/instances_train_full.json.') from error
    images = coco.get('images')
    if not images:
        raise ValueError(f'{ann_file}: no "images" in this COCO file')
    return images


def make_seed_set(image_infos: Iterable[Dict[str, Any]],
                  seeds: Dict[int, Tuple[np.ndarray, List[float]]],
                  info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Assemble the COCO dict of a seed set.

    Args:
        image_infos: COCO image entries (copied unchanged).
        seeds: ``{image id: (seed label map, scores)}``; label maps number
            seeds ``1..k`` and ``scores[i]`` belongs to seed ``i + 1``. Images
            missing here (or with an empty map) get no annotation.
        info: Extra ``info`` fields (cycle, round, recipe, ...).

    Returns:
        The COCO dict; ``info`` also gets ``source``, ``num_seeds`` and
        ``images_without_seeds``.
    """
    images = [dict(img) for img in image_infos]
    annotations, empty = [], []
    for img in images:
        label_map, scores = seeds.get(img['id'], (None, []))
        anns = [] if label_map is None else label_map_to_annotations(
            label_map, img['id'], first_ann_id=len(annotations) + 1)
        for ann in anns:
            ann['score'] = float(scores[ann['instance_id'] - 1])
            ann['source'] = SEED_SOURCE
        annotations += anns
        if not anns:
            empty.append(img.get('source_id', img['id']))
    full_info = {'description': 'mmcyclic seed set', 'source': SEED_SOURCE, **dict(info or {}),
                 'num_seeds': len(annotations), 'images_without_seeds': empty}
    return make_coco(images, annotations, full_info)


def write_seed_set(path: PathLike, coco: Dict[str, Any]) -> None:
    """Write a seed set atomically."""
    write_coco(path, coco)


def read_seed_set(path: PathLike) -> Dict[str, Any]:
    """Read a seed set and check it is one.

    Raises:
        ValueError: the file is not JSON or not a seed set.
    """
    try:
        with open(path, encoding='utf-8') as handle:
            coco = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'{path}: cannot read the seed set ({error})') from error
    if coco.get('info', {}).get('source') != SEED_SOURCE:
        raise ValueError(f'{path}: not a seed set (info.source is not "seed"); make one with '
                         'tools/extract_seeds.py')
    return coco


def seed_label_maps(coco: Dict[str, Any]) -> Dict[int, np.ndarray]:
    """``{image id: seed label map}`` rasterised from a seed set."""
    by_image: Dict[int, list] = {img['id']: [] for img in coco['images']}
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann)
    shapes = {img['id']: (img['height'], img['width']) for img in coco['images']}
    return {i: annotations_to_label_map(anns, *shapes[i]) for i, anns in by_image.items()}
