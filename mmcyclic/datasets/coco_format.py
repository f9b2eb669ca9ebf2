"""Instance label maps <-> COCO instance annotations (RLE), one category.

The COCO layout and fields are described in ``docs/data_format.md``. Masks are
stored as compressed COCO RLE (pycocotools) with ``counts`` as a str so the
result is JSON-serialisable.

Encoding avoids one full-size mask per object: a COCO RLE runs down the
columns (Fortran order), so the runs of an object are those of the full-height
strip of columns its bounding box spans, plus the zeros of the columns left and
right of the strip. The run lengths are computed on that strip with numpy and
compressed by ``pycocotools.mask.frPyObjects``. On a 1000x1000 MoNuSeg label
map with 480 nuclei this takes ~0.1 s instead of ~0.3 s for full-size masks.
"""
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage

from mmcyclic.utils.atomic import atomic_write_json

PathLike = Union[str, os.PathLike]

NUCLEUS_CATEGORY = {'id': 1, 'name': 'nucleus'}
CATEGORY_ID = NUCLEUS_CATEGORY['id']


def _strip_rle(strip: np.ndarray, height: int, width: int, x0: int, x1: int) -> Dict[str, Any]:
    """Compressed full-image RLE of a mask that is zero outside columns ``x0:x1``.

    Args:
        strip: Boolean ``height x (x1 - x0)`` mask of the columns ``x0:x1``.
        height: Full image height.
        width: Full image width.
        x0: First column of the strip.
        x1: One past the last column of the strip.

    Returns:
        ``{'size': [height, width], 'counts': str}``.
    """
    flat = strip.ravel(order='F')
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs.insert(0, 0)  # COCO RLE always starts with a run of zeros
    runs[0] += x0 * height
    tail = (width - x1) * height
    if len(runs) % 2 == 0:  # the strip ends inside the object: add the trailing zeros
        if tail:  # (pycocotools writes no empty final run)
            runs.append(tail)
    else:
        runs[-1] += tail
    rle = mask_utils.frPyObjects({'counts': runs, 'size': [height, width]}, height, width)
    return {'size': [int(height), int(width)], 'counts': rle['counts'].decode('ascii')}


def label_map_to_annotations(label_map: np.ndarray,
                             image_id: int,
                             first_ann_id: int,
                             min_area: int = 1) -> List[Dict[str, Any]]:
    """Convert an instance label map into COCO annotations, one per label id.

    Args:
        label_map: 2-D integer array, 0 = background, ``k > 0`` = instance ``k``.
            An id may have several connected parts (e.g. a nucleus cut by a
            patch border twice); it stays one annotation.
        image_id: COCO ``image_id`` of every annotation.
        first_ann_id: ``id`` of the first annotation; the next ones count up.
        min_area: Instances with fewer pixels are left out.

    Returns:
        Annotations in increasing label-id order, each with ``segmentation``
        (RLE, str counts), ``bbox`` ``[x, y, w, h]``, ``area`` (pixel count),
        ``iscrowd`` 0, ``category_id`` 1 and ``instance_id`` (the label id).
    """
    if label_map.ndim != 2:
        raise ValueError(f'a label map must be 2-D, got shape {label_map.shape}')
    label_map = np.asarray(label_map)
    if label_map.dtype == bool:
        label_map = label_map.astype(np.uint8)
    if not np.issubdtype(label_map.dtype, np.integer):
        raise ValueError(f'a label map must be integer-valued, got dtype {label_map.dtype}')
    if label_map.size and label_map.min() < 0:
        raise ValueError('a label map must not contain negative ids')
    height, width = label_map.shape
    ids = np.unique(label_map)
    ids = ids[ids > 0]
    if ids.size == 0:
        return []
    # find_objects on the ids relabelled 1..n, so that sparse or huge ids
    # (e.g. 10**6) do not make it allocate a slot per possible id.
    dense = np.searchsorted(ids, label_map) + 1
    dense[label_map == 0] = 0
    areas = np.bincount(dense.ravel(), minlength=ids.size + 1)
    annotations = []
    ann_id = first_ann_id
    for index, slices in enumerate(ndimage.find_objects(dense, max_label=ids.size)):
        area = int(areas[index + 1])
        if slices is None or area < min_area:
            continue
        rows, cols = slices
        strip = dense[:, cols] == index + 1
        annotations.append({
            'id': int(ann_id),
            'image_id': int(image_id),
            'category_id': CATEGORY_ID,
            'segmentation': _strip_rle(strip, height, width, cols.start, cols.stop),
            'area': area,
            'bbox': [float(cols.start), float(rows.start),
                     float(cols.stop - cols.start), float(rows.stop - rows.start)],
            'iscrowd': 0,
            'instance_id': int(ids[index]),
        })
        ann_id += 1
    return annotations


def _to_rle(segmentation: Any, height: int, width: int) -> Dict[str, Any]:
    """Any COCO segmentation (RLE with str/bytes/list counts, polygons) -> compressed RLE."""
    if isinstance(segmentation, dict):
        counts = segmentation['counts']
        if isinstance(counts, list):  # uncompressed RLE
            return mask_utils.frPyObjects(segmentation, height, width)
        if isinstance(counts, str):
            counts = counts.encode('ascii')
        return {'size': list(segmentation['size']), 'counts': counts}
    if isinstance(segmentation, list):  # polygons
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    raise ValueError(f'unsupported COCO segmentation of type {type(segmentation).__name__}')


def annotations_to_label_map(annotations: Sequence[Dict[str, Any]], height: int,
                             width: int) -> np.ndarray:
    """Rasterise COCO annotations of one image into an instance label map.

    Annotations are painted in the given order and a later annotation does
    **not** overwrite pixels that an earlier one already holds, so the result
    has exactly one id per pixel. The id of an annotation is its
    ``instance_id`` when every annotation has one and they are unique (this
    makes ``label_map -> annotations -> label_map`` an exact round trip);
    otherwise annotations are numbered 1..n in the given order.

    Args:
        annotations: COCO annotations (RLE or polygon ``segmentation``).
        height: Image height.
        width: Image width.

    Returns:
        ``height x width`` int64 label map, 0 = background.
    """
    label_map = np.zeros((height, width), dtype=np.int64)
    instance_ids = [ann.get('instance_id') for ann in annotations]
    use_instance_ids = (all(isinstance(i, (int, np.integer)) and i > 0 for i in instance_ids)
                        and len(set(instance_ids)) == len(instance_ids))
    for index, ann in enumerate(annotations):
        rle = _to_rle(ann['segmentation'], height, width)
        if tuple(rle['size']) != (height, width):
            raise ValueError(f'annotation {ann.get("id")}: mask size {rle["size"]} '
                             f'differs from the image size {[height, width]}')
        x, y, w, h = (int(v) for v in mask_utils.toBbox(rle))
        if w == 0 or h == 0:
            continue
        # Decode once, then touch only the box, not the whole image.
        mask = mask_utils.decode(rle)[y:y + h, x:x + w].astype(bool)
        window = label_map[y:y + h, x:x + w]
        window[mask & (window == 0)] = instance_ids[index] if use_instance_ids else index + 1
    return label_map


def make_coco(images: Iterable[Dict[str, Any]],
              annotations: Iterable[Dict[str, Any]],
              info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Assemble a COCO instance-segmentation dict with the single ``nucleus`` category."""
    return {
        'info': dict(info or {}),
        'licenses': [],
        'images': list(images),
        'annotations': list(annotations),
        'categories': [dict(NUCLEUS_CATEGORY)],
    }


def write_coco(path: PathLike, coco: Dict[str, Any]) -> None:
    """Write a COCO dict as JSON, atomically (a reader never sees half a file)."""
    atomic_write_json(path, coco)
