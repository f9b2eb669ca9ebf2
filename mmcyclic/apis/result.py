"""What a segmentation run found in one image, and its exports (GeoJSON, label map, COCO).

Coordinates
    Polygons and centroids use continuous image coordinates ``(x, y)`` with
    the image's top-left corner at ``(0, 0)``: pixel ``label_map[r, c]``
    covers ``[c, c + 1] x [r, r + 1]`` and its centre is ``(c + 0.5, r + 0.5)``.
    This is the convention of QuPath and GeoJSON exports of pixel images, so
    polygons land on the right pixels there without any shift.

Polygons
    Each nucleus is traced with marching squares
    (:func:`skimage.measure.find_contours` at level 0.5, 8-connected
    foreground) on its own bounding-box crop. Vertices lie on pixel-edge
    midpoints (multiples of 0.5), so every pixel centre of the nucleus is
    inside and every other pixel centre outside: rasterising the polygon by
    pixel centres gives back the mask exactly. Collinear vertices are dropped
    (lossless). Rings are closed (first vertex repeated), exteriors wind
    counter-clockwise and holes clockwise in ``(x, y)`` (RFC 7946), and the
    rings are OGC-valid (no self-intersection or touching), which QuPath 0.6
    requires when it reduces coordinate precision on import. A nucleus in
    several 8-connected pieces (possible after stitching) becomes a
    ``MultiPolygon``.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy import ndimage
from skimage.measure import find_contours

from mmcyclic.datasets.coco_format import label_map_to_annotations, make_coco, write_coco
from mmcyclic.datasets.io import write_image, write_label_map
from mmcyclic.utils.atomic import atomic_write_json

from .overlay import draw_contours

PathLike = Union[str, os.PathLike]
Ring = np.ndarray  # (K, 2) float (x, y), closed: ring[0] == ring[-1]
Geometry = List[List[Ring]]  # parts; each part = [exterior, *holes]
FORMATS = ('geojson', 'labels', 'coco', 'overlay')
LABEL_SUFFIXES = ('.tif', '.png', '.npy')
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _signed_area(ring: Ring) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _drop_collinear(ring: Ring) -> Ring:
    """Remove vertices where the ring goes straight on; keep it closed."""
    points = ring[:-1]
    before = points - np.roll(points, 1, axis=0)
    after = np.roll(points, -1, axis=0) - points
    turns = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0] != 0
    points = points[turns]
    return np.vstack([points, points[:1]])


def trace_crop(mask: np.ndarray, y0: int, x0: int) -> Geometry:
    """Polygons of a boolean crop whose top-left pixel is ``(y0, x0)`` in the image."""
    parts, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    geometry: Geometry = []
    for index in range(1, count + 1):
        # One pixel of zero padding closes every contour; marching squares on
        # the padded crop puts pixel (r, c) of the crop at (r + 1, c + 1).
        padded = np.pad(parts == index, 1).astype(np.uint8)
        rings = []
        for contour in find_contours(padded, 0.5, fully_connected='high'):
            ring = np.stack([contour[:, 1] + (x0 - 0.5), contour[:, 0] + (y0 - 0.5)], axis=1)
            rings.append(_drop_collinear(ring))
        # One 8-connected piece has one outer boundary (the largest) and one ring per hole.
        rings.sort(key=lambda r: -abs(_signed_area(r)))
        oriented = [ring if (_signed_area(ring) > 0) == (k == 0) else ring[::-1]
                    for k, ring in enumerate(rings)]
        geometry.append(oriented)
    return geometry


def _drop_small(label_map: np.ndarray, scores: np.ndarray,
                min_area: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Remove instances of fewer than ``min_area`` pixels; renumber the rest ``1..N'``."""
    if min_area <= 1 or not len(scores):
        return label_map, scores, 0
    areas = np.bincount(label_map.ravel(), minlength=len(scores) + 1)[1:]
    keep = (areas >= min_area) | (areas == 0)  # a missing id is reported by the caller
    if keep.all():
        return label_map, scores, 0
    new_ids = np.zeros(len(scores) + 1, np.int32)
    new_ids[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[label_map], scores[keep], int((~keep).sum())


def _ring_to_list(ring: Ring) -> List[List[float]]:
    return [[float(x), float(y)] for x, y in ring]


@dataclass
class NucleiResult:
    """Nuclei found in one image.

    Build it with :meth:`from_label_map`. Instance ``i`` (0-based) has id
    ``i + 1`` in ``label_map``.

    Attributes:
        label_map: ``H x W`` int32, 0 = background, ids ``1..N``.
        scores: ``(N,)`` detection scores.
        areas: ``(N,)`` pixel counts.
        centroids: ``(N, 2)`` mean pixel centre ``(x, y)`` (module docstring).
        polygons: ``N`` geometries; each a list of parts, each part a list of
            closed rings ``(K, 2)`` ``(x, y)``: the exterior, then any holes.
        dropped_below_min_area: Instances left out for being smaller than the
            ``min_area`` of :meth:`from_label_map`.
    """

    label_map: np.ndarray
    scores: np.ndarray
    areas: np.ndarray
    centroids: np.ndarray
    polygons: List[Geometry]
    dropped_below_min_area: int = 0

    @classmethod
    def from_label_map(cls, label_map: np.ndarray, scores: Optional[Sequence[float]] = None,
                       min_area: int = 1) -> 'NucleiResult':
        """Measure and trace every instance of a label map.

        Args:
            label_map: 2-D integer array with ids exactly ``1..N`` (0 = background).
            scores: ``N`` scores (``scores[i]`` for id ``i + 1``); default all 1
                (e.g. for ground truth).
            min_area: Instances of fewer pixels are dropped (counted in
                :attr:`dropped_below_min_area`) and the rest renumbered ``1..N'``
                in their order.

        Raises:
            ValueError: not 2-D, the ids are not ``1..N`` / do not match ``scores``,
                or a score is NaN or infinite.
        """
        label_map = np.asarray(label_map)
        if label_map.ndim != 2 or not np.issubdtype(label_map.dtype, np.integer):
            raise ValueError(f'a label map must be a 2-D integer array, got {label_map.dtype} '
                             f'of shape {label_map.shape}')
        label_map = label_map.astype(np.int32, copy=False)
        if label_map.min(initial=0) < 0:
            raise ValueError('label map ids must not be negative')
        count = int(label_map.max(initial=0))
        scores = np.ones(count) if scores is None else np.asarray(scores, dtype=np.float64)
        if scores.shape != (count, ):
            raise ValueError(f'{scores.size} scores for {count} instances')
        broken = np.flatnonzero(~np.isfinite(scores))
        if broken.size:
            raise ValueError(f'{broken.size} of {count} scores are not finite (NaN or infinite; '
                             f'ids {(broken[:5] + 1).tolist()}): the model\'s outputs are broken, '
                             'e.g. by a diverged training; use a checkpoint of a run that '
                             'converged')
        label_map, scores, dropped = _drop_small(label_map, scores, min_area)
        count = len(scores)
        areas = np.zeros(count, np.int64)
        centroids = np.zeros((count, 2))
        polygons = []
        # Everything per instance is computed on its bounding-box crop: no
        # full-size temporary per instance (or per coordinate).
        for index, box in enumerate(ndimage.find_objects(label_map, max_label=count)):
            if box is None:
                raise ValueError(f'label map has no pixel with id {index + 1}: ids must be exactly '
                                 '1..N; relabel with skimage.segmentation.relabel_sequential')
            mask = label_map[box] == index + 1
            rows, cols = np.nonzero(mask)
            areas[index] = rows.size
            centroids[index] = (cols.mean() + box[1].start + 0.5, rows.mean() + box[0].start + 0.5)
            polygons.append(trace_crop(mask, box[0].start, box[1].start))
        return cls(label_map, scores, areas, centroids, polygons, dropped)

    def __len__(self) -> int:
        return len(self.scores)

    def to_label_map(self) -> np.ndarray:
        """The ``H x W`` int32 instance label map (ids ``1..N``, 0 = background)."""
        return self.label_map

    def to_geojson(self, class_name: str = 'Nucleus',
                   color: Tuple[int, int, int] = (0, 200, 0)) -> Dict[str, Any]:
        """A GeoJSON FeatureCollection that QuPath imports as detections.

        Each nucleus is a ``Polygon`` (``MultiPolygon`` if in pieces) Feature with
        ``properties``: ``objectType: "detection"``,
        ``classification: {"name": class_name, "color": [r, g, b]}`` and
        ``measurements`` as a list of ``{"name", "value"}`` (``Label`` = id in
        the label map, ``Area px^2``, ``Score``): every QuPath version with
        GeoJSON import reads the list form; 0.4+ also reads a ``{name: value}``
        dict. See docs/inference.md.
        """
        features = []
        for index, geometry in enumerate(self.polygons):
            coordinates = [[_ring_to_list(ring) for ring in part] for part in geometry]
            features.append({
                'type': 'Feature',
                'geometry': ({'type': 'Polygon', 'coordinates': coordinates[0]}
                             if len(coordinates) == 1 else
                             {'type': 'MultiPolygon', 'coordinates': coordinates}),
                'properties': {
                    'objectType': 'detection',
                    'classification': {'name': class_name, 'color': [int(c) for c in color]},
                    'measurements': [
                        {'name': 'Label', 'value': index + 1},
                        {'name': 'Area px^2', 'value': int(self.areas[index])},
                        {'name': 'Score', 'value': round(float(self.scores[index]), 6)},
                    ],
                },
            })
        return {'type': 'FeatureCollection', 'features': features}

    def to_coco(self, image_id: int = 1, file_name: str = '') -> Dict[str, Any]:
        """A COCO instance-segmentation dict: one image, one RLE annotation per nucleus.

        Annotations carry ``score`` (COCO results convention) and
        ``instance_id`` (the id in the label map), so
        :func:`mmcyclic.datasets.coco_format.annotations_to_label_map` gives back
        :attr:`label_map`.
        """
        annotations = label_map_to_annotations(self.label_map, image_id, first_ann_id=1)
        for ann in annotations:
            ann['score'] = float(self.scores[ann['instance_id'] - 1])
        height, width = self.label_map.shape
        image = {'id': int(image_id), 'file_name': file_name, 'height': height, 'width': width}
        return make_coco([image], annotations, info={'description': 'mmcyclic nuclei predictions'})

    def save(self, out_dir: PathLike, stem: str, formats: Iterable[str] = FORMATS,
             image: Optional[np.ndarray] = None, label_suffix: str = '.tif',
             file_name: str = '') -> List[Path]:
        """Write the requested exports, each atomically.

        Files: ``<stem>.geojson``, ``<stem>_labels<label_suffix>``,
        ``<stem>_coco.json`` and ``<stem>_overlay.png``.

        Args:
            out_dir: Output folder (created).
            stem: File name stem.
            formats: Any of ``geojson``, ``labels``, ``coco``, ``overlay``.
            image: The RGB image; needed for ``overlay``.
            label_suffix: ``.tif`` (uint32), ``.png`` (uint16; ``.tif`` is
                written instead when ids exceed 65535) or ``.npy`` (int32).
            file_name: Image file name recorded in the COCO file.

        Returns:
            The paths written.
        """
        formats = list(formats)
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise ValueError(f'unknown output format(s) {unknown}; choose from {list(FORMATS)}')
        if label_suffix not in LABEL_SUFFIXES:
            raise ValueError(f'label_suffix must be one of {LABEL_SUFFIXES}, got {label_suffix!r}')
        if 'overlay' in formats and image is None:
            raise ValueError('the overlay needs the image: pass image=')
        out_dir = Path(out_dir)
        written = []
        if 'geojson' in formats:
            written.append(out_dir / f'{stem}.geojson')
            # Strict JSON (RFC 8259): QuPath and other readers reject NaN.
            atomic_write_json(written[-1], self.to_geojson(), allow_nan=False)
        if 'labels' in formats:
            if label_suffix == '.png' and len(self) > np.iinfo(np.uint16).max:
                label_suffix = '.tif'  # a 16-bit PNG cannot hold the ids
            written.append(out_dir / f'{stem}_labels{label_suffix}')
            write_label_map(written[-1], self.label_map)
        if 'coco' in formats:
            written.append(out_dir / f'{stem}_coco.json')
            write_coco(written[-1], self.to_coco(file_name=file_name))
        if 'overlay' in formats:
            written.append(out_dir / f'{stem}_overlay.png')
            write_image(written[-1], draw_contours(image, self.label_map))
        return written
