"""Label sets of the back-end: seeds M, teacher predictions M', and their union.

A label set is a COCO json over *whole* images (one image record per source
image, copied from ``instances_<split>_full.json``). Each annotation carries

- ``source``: ``'seed'`` (from the front-end, or GT subsampled for Table V) or
  ``'prediction'`` (from a teacher);
- ``score``: the detection score (1.0 for seeds);

and the file's ``info`` records ``cycle`` and ``round``.

Training runs on patches, so :func:`patch_training_coco` cuts one or several
label sets into the patch grid of the patch-level annotation file. The label
set an instance comes from is its category: category ``k + 1`` is the k-th
set, so mmdet's transforms (crop, flip, filters) keep it attached to the
instance, and the model reads it back as the label index (see
:class:`mmcyclic.models.LabelSetMaskRCNN`).
"""
import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from pycocotools import mask as mask_utils

from mmcyclic.utils.atomic import atomic_write_json

from .coco_format import label_map_to_annotations, make_coco

PathLike = Union[str, os.PathLike]
SEED = 'seed'
PREDICTION = 'prediction'


@dataclass
class LabelSet:
    """Instance masks over whole images.

    Attributes:
        images: Whole-image COCO records (``id``, ``source_id``, ``height``, ...).
        annotations: COCO annotations (full-image RLE) with ``source`` and ``score``.
        info: Free-form provenance (``cycle``, ``round``, recipe, ...).
    """

    images: List[Dict[str, Any]]
    annotations: List[Dict[str, Any]]
    info: Dict[str, Any] = field(default_factory=dict)

    def by_image(self) -> Dict[int, List[Dict[str, Any]]]:
        """Annotations grouped by ``image_id`` (every image present, maybe empty)."""
        groups: Dict[int, List[Dict[str, Any]]] = {img['id']: [] for img in self.images}
        for ann in self.annotations:
            groups.setdefault(ann['image_id'], []).append(ann)
        return groups

    def count_empty_images(self) -> int:
        return sum(1 for anns in self.by_image().values() if not anns)

    def save(self, path: PathLike) -> None:
        """Write the set as COCO json, atomically; ids are renumbered 1..n."""
        annotations = [dict(ann, id=i) for i, ann in enumerate(self.annotations, 1)]
        atomic_write_json(path, make_coco(self.images, annotations, info=self.info))


def load_label_set(path: PathLike, default_source: str = SEED) -> LabelSet:
    """Read a label set; annotations without ``source``/``score`` get defaults.

    Raises:
        ValueError: the file is not a COCO instance file with whole images.
    """
    with open(path, encoding='utf-8') as handle:
        try:
            coco = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f'{path}: not valid JSON ({error})') from error
    if not isinstance(coco, dict) or 'images' not in coco or 'annotations' not in coco:
        raise ValueError(f'{path}: not a COCO file (needs "images" and "annotations")')
    annotations = []
    for ann in coco['annotations']:
        ann = dict(ann)
        ann.setdefault('source', default_source)
        ann.setdefault('score', 1.0)
        annotations.append(ann)
    return LabelSet(coco['images'], annotations, coco.get('info', {}))


def subsample_ground_truth(full_coco: PathLike, k: int, seed: int = 0) -> LabelSet:
    """At most ``k`` ground-truth nuclei per image, chosen at random (paper Table V, "GT×K").

    This uses pixel labels and exists to study the back-end alone; it is not
    part of the weakly-supervised method.
    """
    full = load_label_set(full_coco)
    rng = np.random.default_rng(seed)
    kept = []
    for image_id, anns in full.by_image().items():
        order = rng.permutation(len(anns))[:k]
        kept.extend(dict(anns[i], source=SEED, score=1.0) for i in sorted(order))
    info = dict(full.info, description=f'ground truth subsampled to {k} per image',
                uses_pixel_labels=True, k=k, seed=seed)
    return LabelSet(copy.deepcopy(full.images), kept, info)


def label_set_from_label_maps(images: Sequence[Dict[str, Any]],
                              predictions: Mapping[int, Tuple[np.ndarray, np.ndarray]],
                              source: str = PREDICTION,
                              info: Optional[Dict[str, Any]] = None) -> LabelSet:
    """Build a label set from one ``(label_map, scores)`` per image id.

    ``scores[i - 1]`` is the score of label ``i``. Images missing from
    ``predictions`` get no annotation.
    """
    annotations: List[Dict[str, Any]] = []
    for image in images:
        if image['id'] not in predictions:
            continue
        label_map, scores = predictions[image['id']]
        for ann in label_map_to_annotations(label_map, image['id'], len(annotations) + 1):
            ann.update(source=source, score=float(scores[ann.pop('instance_id') - 1]))
            annotations.append(ann)
    return LabelSet(copy.deepcopy(list(images)), annotations, dict(info or {}))


def union_label_sets(existing: LabelSet, new: LabelSet,
                     iou_thr: float = 0.5) -> Tuple[LabelSet, Dict[str, int]]:
    """``M ∪ M'``: add each new mask unless it repeats an existing one.

    Rule: a new mask whose IoU with any mask of ``existing`` on the same image
    is ``>= iou_thr`` is dropped (the existing mask, e.g. a seed, is kept);
    every other new mask is added, even if it partly overlaps an existing one.

    Returns:
        The union and counts ``{'kept': n, 'dropped_as_duplicate': n}``.
    """
    old_by_image = existing.by_image()
    added, dropped = [], 0
    for image_id, new_anns in new.by_image().items():
        old = old_by_image.get(image_id, [])
        if not new_anns:
            continue
        if old:
            ious = mask_utils.iou([_rle(a) for a in new_anns], [_rle(a) for a in old],
                                  [0] * len(old))
            duplicate = np.asarray(ious).reshape(len(new_anns), len(old)).max(axis=1) >= iou_thr
        else:
            duplicate = np.zeros(len(new_anns), dtype=bool)
        dropped += int(duplicate.sum())
        added.extend(a for a, dup in zip(new_anns, duplicate) if not dup)
    info = dict(existing.info, union_iou_thr=iou_thr)
    union = LabelSet(copy.deepcopy(existing.images), existing.annotations + added, info)
    return union, {'kept': len(added), 'dropped_as_duplicate': dropped}


def _rle(ann: Dict[str, Any]) -> Dict[str, Any]:
    seg = ann['segmentation']
    counts = seg['counts']
    return {'size': seg['size'],
            'counts': counts.encode('ascii') if isinstance(counts, str) else counts}


def select_patches(patch_coco: Dict[str, Any],
                   indices: Union[int, Sequence[int], None]) -> Dict[str, Any]:
    """The patch-level COCO dict restricted to ``indices`` of its images, in file order.

    ``indices`` has the meaning of mmengine's ``BaseDataset(indices=...)``: an
    int ``n`` keeps the first ``n`` images (the last ``-n`` when negative), a
    sequence keeps those positions, None keeps all. Unlike the dataset
    argument it applies to the file as written, before any filtering, so the
    same patches are chosen whatever labels a phase carries.

    Raises:
        ValueError: a position is out of range.
    """
    images = list(patch_coco['images'])
    if indices is None:
        chosen = images
    elif isinstance(indices, int):
        chosen = images[:indices] if indices >= 0 else images[indices:]
    else:
        bad = [i for i in indices if not -len(images) <= i < len(images)]
        if bad:
            raise ValueError(f'indices {bad[:5]} are out of range for {len(images)} patches')
        chosen = [images[i] for i in indices]
    ids = {img['id'] for img in chosen}
    return dict(patch_coco, images=chosen,
                annotations=[a for a in patch_coco.get('annotations', []) if a['image_id'] in ids])


def patch_training_coco(patch_coco: Dict[str, Any], label_sets: Sequence[LabelSet],
                        set_names: Sequence[str], min_area: int = 4) -> Dict[str, Any]:
    """Cut whole-image label sets into the patches of a patch-level COCO dict.

    Args:
        patch_coco: Patch-level COCO (``instances_train.json``); its own
            annotations (ground truth) are discarded.
        label_sets: Whole-image label sets, e.g. ``[M, M']``.
        set_names: One category name per set; category ``k + 1`` is set ``k``.
        min_area: Patch parts of an instance with fewer pixels are left out.

    Returns:
        A COCO dict with the patch images and the label-set annotations.
    """
    if len(label_sets) != len(set_names):
        raise ValueError('one name per label set is needed')
    patches_by_source: Dict[str, List[Dict[str, Any]]] = {}
    for patch in patch_coco['images']:
        patches_by_source.setdefault(str(patch['source_id']), []).append(patch)
    annotations: List[Dict[str, Any]] = []
    for set_index, label_set in enumerate(label_sets):
        source_of = {img['id']: str(img.get('source_id', img['id'])) for img in label_set.images}
        for ann in label_set.annotations:
            patches = patches_by_source.get(source_of.get(ann['image_id'], ''), [])
            if patches:
                annotations.extend(_cut_into_patches(ann, patches, set_index + 1, min_area,
                                                     len(annotations) + 1))
    coco = make_coco(patch_coco['images'], annotations, info=dict(set_names=list(set_names)))
    coco['categories'] = [{'id': k + 1, 'name': name} for k, name in enumerate(set_names)]
    return coco


def _cut_into_patches(ann: Dict[str, Any], patches: List[Dict[str, Any]], category_id: int,
                      min_area: int, first_id: int) -> List[Dict[str, Any]]:
    x, y, w, h = ann['bbox']
    mask = None
    out = []
    for patch in patches:
        px, py = patch['patch_origin']
        ph, pw = patch['height'], patch['width']
        if x >= px + pw or y >= py + ph or x + w <= px or y + h <= py:
            continue
        if mask is None:
            mask = mask_utils.decode(_rle(ann))
        part = np.asfortranarray(mask[py:py + ph, px:px + pw])
        area = int(part.sum())
        if area < min_area:
            continue
        rle = mask_utils.encode(part)
        bx, by, bw, bh = mask_utils.toBbox(rle).tolist()
        out.append({
            'id': first_id + len(out), 'image_id': patch['id'], 'category_id': category_id,
            'segmentation': {'size': [ph, pw], 'counts': rle['counts'].decode('ascii')},
            'area': area, 'bbox': [bx, by, bw, bh], 'iscrowd': 0,
            'source': ann.get('source', SEED), 'score': ann.get('score', 1.0),
        })
    return out
