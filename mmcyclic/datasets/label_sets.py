"""Label sets: seeds M, teacher predictions M', and their union, in one type.

A label set is a COCO json over *whole* images (one image record per source
image, copied from ``instances_<split>_full.json``). The three kinds of files
the back-end trains on are label sets, read by :func:`load_label_set` and
checked by :func:`check_label_set`:

- front-end seed sets (``tools/extract_seeds.py``, :func:`seed_set_from_label_maps`);
- ground truth subsampled to K nuclei per image (``tools/make_gt_seeds.py``,
  :func:`subsample_ground_truth`, paper Table V);
- the self-training files ``M.json``, ``M_prime.json``, ``union.json`` and
  ``predictions.json`` (:func:`label_set_from_label_maps`, :func:`union_label_sets`).

Each annotation is a full-image COCO RLE with ``bbox`` and carries

- ``source``: ``'seed'`` (from the front-end, or GT subsampled for Table V) or
  ``'prediction'`` (from a teacher);
- ``score``: the detection score (mean normalised relevance for front-end
  seeds, 1.0 for ground truth);
- ``instance_id`` where it was made from a label map: its id in that map;

and the file's ``info`` records its provenance (``cycle``, ``round``, recipe, ...).

Training runs on patches, so :func:`patch_training_coco` cuts one or several
label sets into the patch grid of the patch-level annotation file. The label
set an instance comes from is its category: category ``k + 1`` is the k-th
set, so mmdet's transforms (crop, flip, filters) keep it attached to the
instance, and the model reads it back as the label index (see
:class:`mmcyclic.models.LabelSetMaskRCNN`).
"""
import copy
import json
import math
import os
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from pycocotools import mask as mask_utils

from mmcyclic.utils.atomic import atomic_write_json

from .coco_format import label_map_to_annotations, make_coco

PathLike = Union[str, os.PathLike]
SEED = 'seed'
PREDICTION = 'prediction'
SOURCES = (SEED, PREDICTION)


@dataclass
class LabelSet:
    """Instance masks over whole images.

    Attributes:
        images (list[dict]): Whole-image COCO records (``id``, ``source_id``, ``height``, ...).
        annotations (list[dict]): COCO annotations (full-image RLE) with ``source`` and
            ``score``.
        info (dict): Free-form provenance (``cycle``, ``round``, recipe, ...).
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
        """Number of images without any annotation."""
        return sum(1 for anns in self.by_image().values() if not anns)

    def save(self, path: PathLike) -> None:
        """Write the set as COCO json, atomically; ids are renumbered 1..n."""
        annotations = [dict(ann, id=i) for i, ann in enumerate(self.annotations, 1)]
        atomic_write_json(path, make_coco(self.images, annotations, info=self.info))


class LabelSetError(ValueError):
    """A file is not a valid label set; the message names the file and what is wrong."""


def check_label_set(coco: Any, path: PathLike) -> None:
    """The one validity check of a label-set file (seeds, GT×K or pseudo labels).

    Checks what the back-end relies on: ``images`` and ``annotations`` lists,
    unique integer image ids with a positive ``height`` and ``width``, and per
    annotation an ``image_id`` of the file, a full-image RLE ``segmentation``
    of its image's size, a 4-number ``bbox``, a finite ``score`` and a
    ``source`` of :data:`SOURCES` when these two are given.

    Args:
        coco (Any): The parsed JSON of the file.
        path (str | os.PathLike): The file, named in the error.

    Raises:
        LabelSetError: The first problem found, as ``"<path>: <problem>"``.
    """
    def fail(problem: str) -> None:
        raise LabelSetError(f'{path}: {problem}; not a label set (a whole-image COCO file '
                            'as written by tools/extract_seeds.py, tools/make_gt_seeds.py or '
                            'self-training)')

    if not isinstance(coco, dict) or not isinstance(coco.get('images'), list) \
            or not isinstance(coco.get('annotations'), list):
        fail('needs "images" and "annotations" lists')
    if not isinstance(coco.get('info', {}), dict):
        fail('"info" is not an object')
    sizes: Dict[int, List[int]] = {}
    for index, image in enumerate(coco['images']):
        image_id = image.get('id') if isinstance(image, dict) else None
        if not _is_int(image_id) or image_id in sizes:
            fail(f'images[{index}] has no integer "id" or repeats one ({image_id!r})')
        size = [image.get('height'), image.get('width')]
        if not all(_is_int(v) and v > 0 for v in size):
            fail(f'image {image_id} has no positive integer "height" and "width"')
        sizes[image_id] = size
    for index, ann in enumerate(coco['annotations']):
        where = f'annotations[{index}]'
        if not isinstance(ann, dict):
            fail(f'{where} is not an object')
        if ann.get('image_id') not in sizes:
            fail(f'{where} refers to image {ann.get("image_id")!r}, which is not in "images"')
        rle = ann.get('segmentation')
        if not isinstance(rle, dict) or not isinstance(rle.get('counts'), (str, list)):
            fail(f'{where} has no RLE "segmentation" (a dict with "size" and "counts")')
        if not isinstance(rle.get('size'), list) or rle['size'] != sizes[ann['image_id']]:
            fail(f'{where}: RLE size {rle.get("size")} is not the size [height, width] = '
                 f'{sizes[ann["image_id"]]} of image {ann["image_id"]}')
        bbox = ann.get('bbox')
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            fail(f'{where} has no "bbox" [x, y, w, h]')
        if 'score' in ann and not _is_number(ann['score']):
            fail(f'{where} has a score {ann["score"]!r} that is not a finite number')
        if 'source' in ann and ann['source'] not in SOURCES:
            fail(f'{where} has source {ann["source"]!r}, not one of {SOURCES}')


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def load_label_set(path: PathLike, default_source: str = SEED) -> LabelSet:
    """Read and check (:func:`check_label_set`) a label set.

    Annotations without ``source``/``score`` get ``default_source`` and 1.0
    (a ground-truth file read as seeds).

    Args:
        path (str | os.PathLike): The COCO json.
        default_source (str): ``source`` of annotations that have none.

    Returns:
        LabelSet: The set, ``info`` empty when the file has none.

    Raises:
        LabelSetError: The file cannot be read, is not JSON or fails the check.
    """
    try:
        with open(path, encoding='utf-8') as handle:
            coco = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        empty = os.path.isfile(path) and os.path.getsize(path) == 0
        raise LabelSetError(
            f'{path}: the file is empty (0 bytes), e.g. left by an interrupted copy; make it '
            'again (tools/extract_seeds.py, tools/make_gt_seeds.py) or copy it again' if empty
            else f'{path}: cannot read the label set ({error})') from error
    check_label_set(coco, path)
    annotations = []
    for ann in coco['annotations']:
        ann = dict(ann)
        ann.setdefault('source', default_source)
        ann.setdefault('score', 1.0)
        annotations.append(ann)
    return LabelSet(coco['images'], annotations, coco.get('info', {}))


def load_image_infos(ann_file: PathLike) -> List[Dict[str, Any]]:
    """Image entries of a whole-image COCO file (e.g. ``instances_train_full.json``).

    Args:
        ann_file (str | os.PathLike): The whole-image annotation file of a split.

    Returns:
        list[dict]: Its ``images``, the records every label set of the split copies.

    Raises:
        ValueError: The file cannot be read or has no image.
    """
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


def subsample_ground_truth(full_coco: PathLike, k: int, seed: int = 0) -> LabelSet:
    """At most ``k`` ground-truth nuclei per image, chosen at random (paper Table V, "GT×K").

    This uses pixel labels and exists to study the back-end alone; it is not
    part of the weakly-supervised method.

    Args:
        full_coco (str | os.PathLike): Whole-image ground truth (``instances_train_full.json``).
        k (int): Nuclei kept per image at most.
        seed (int): Random seed of the choice.

    Returns:
        LabelSet: Seeds (``source`` ``'seed'``, ``score`` 1.0) with ``info.k`` and ``info.seed``.
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
                              label_maps: Mapping[int, Tuple[np.ndarray, Sequence[float]]],
                              source: str = PREDICTION,
                              info: Optional[Dict[str, Any]] = None) -> LabelSet:
    """Build a label set from one ``(label_map, scores)`` per image id.

    Args:
        images (Sequence[dict]): Whole-image COCO records (copied).
        label_maps (Mapping[int, tuple]): ``{image id: (label map, scores)}``;
            ``scores[i - 1]`` is the score of label ``i``. Images missing here
            get no annotation.
        source (str): ``source`` of every annotation (one of :data:`SOURCES`).
        info (dict, optional): The set's ``info``.

    Returns:
        LabelSet: One annotation per label, with ``instance_id`` (its label),
        ``source`` and ``score``.
    """
    annotations: List[Dict[str, Any]] = []
    for image in images:
        if image['id'] not in label_maps:
            continue
        label_map, scores = label_maps[image['id']]
        for ann in label_map_to_annotations(label_map, image['id'], len(annotations) + 1):
            ann.update(source=source, score=float(scores[ann['instance_id'] - 1]))
            annotations.append(ann)
    return LabelSet(copy.deepcopy(list(images)), annotations, dict(info or {}))


def seed_set_from_label_maps(images: Sequence[Dict[str, Any]],
                             seeds: Mapping[int, Tuple[np.ndarray, Sequence[float]]],
                             info: Optional[Dict[str, Any]] = None) -> LabelSet:
    """The front-end's seed set: :func:`label_set_from_label_maps` with source ``'seed'``.

    Args:
        images (Sequence[dict]): The whole images of the training split
            (:func:`load_image_infos`), all kept, with or without seeds.
        seeds (Mapping[int, tuple]): ``{image id: (seed label map, scores)}``;
            label maps number seeds ``1..k``, ``scores[i]`` belongs to seed ``i + 1``.
        info (dict, optional): Extra ``info`` fields (cycle, round, recipe, ...).

    Returns:
        LabelSet: Its ``info`` also gets ``description``, ``source`` ``'seed'``,
        ``num_seeds`` and ``images_without_seeds`` (source ids).
    """
    seed_set = label_set_from_label_maps(images, seeds, SEED)
    by_image = seed_set.by_image()
    empty = [img.get('source_id', img['id']) for img in seed_set.images if not by_image[img['id']]]
    seed_set.info = {'description': 'mmcyclic seed set', 'source': SEED, **dict(info or {}),
                     'num_seeds': len(seed_set.annotations), 'images_without_seeds': empty}
    return seed_set


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


def mask_area(ann: Dict[str, Any]) -> int:
    """Pixels of an annotation's RLE mask (compressed or not), without decoding it."""
    counts = ann['segmentation']['counts']
    if isinstance(counts, list):  # uncompressed RLE: runs of 0s and 1s, 0s first
        return int(sum(counts[1::2]))
    return int(mask_utils.area(_rle(ann)))


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
