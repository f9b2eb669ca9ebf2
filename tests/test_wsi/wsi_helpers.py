"""Helpers for the whole-slide tests: ground truth on the model grid, QuPath's import rules."""
import gzip
import json
from pathlib import Path
from typing import List, Tuple

import numpy as np
import shapely
from shapely.geometry import shape
from skimage.segmentation import relabel_sequential


def model_grid_truth(slide, factor: int = 1) -> np.ndarray:
    """The synthetic slide's nucleus ids on the model grid (``factor`` 1 or 2).

    With ``factor=2`` a model pixel takes the id most of its 2 x 2 level-0
    pixels have (any single sample would shift every nucleus by half a pixel).
    """
    _, ids = slide.region(0, 0, slide.height, slide.width)
    if factor == 2:
        h, w = ids.shape[0] // 2, ids.shape[1] // 2
        a, b, c, d = np.moveaxis(np.sort(ids[:2 * h, :2 * w].reshape(h, 2, w, 2)
                                         .transpose(0, 2, 1, 3).reshape(h, w, 4), axis=2), 2, 0)
        ids = np.where(b == c, b, np.where(a == b, a, np.where(c == d, c, b)))
    elif factor != 1:
        raise ValueError('factor must be 1 or 2')
    return relabel_sequential(ids)[0].astype(np.int32)


class QuPathImportError(ValueError):
    """What QuPath would refuse on import."""


def _path_class(value):
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if 'names' in value or 'name' in value:
        if 'color' not in value and 'colorRGB' not in value:
            raise QuPathImportError('Unable to parse PathClass')  # GsonTools.PathClassTypeAdapter
        return ': '.join(value['names']) if 'names' in value else value['name']
    raise QuPathImportError(f'unknown classification {value!r}')


def _parse_object(feature) -> Tuple[str, str, object]:
    """A port of ``PathObjectTypeAdapter.parseObject`` for the parts our files use."""
    properties = feature.get('properties') or {}
    object_type = properties.get('objectType', properties.get('object_type', 'annotation'))
    if object_type not in ('annotation', 'detection', 'cell', 'tile', 'tmaCore', 'root'):
        object_type = 'annotation'
    measurements = properties.get('measurements', [])
    if isinstance(measurements, list):
        for m in measurements:
            if set(m) != {'name', 'value'} or not isinstance(m['value'], (int, float)):
                raise QuPathImportError(f'bad measurement {m}')
    elif not isinstance(measurements, dict):
        raise QuPathImportError('measurements must be a list or an object')
    geometry = shape(feature['geometry'])
    # QuPath 0.6+: GeometryPrecisionReducer.reduce onto PrecisionModel(-0.01).
    try:
        reduced = shapely.set_precision(geometry, 0.01)
    except shapely.errors.GEOSException:
        raise QuPathImportError('Reduction failed, possible invalid input') from None
    if not geometry.is_valid or not reduced.is_valid or reduced.is_empty:
        raise QuPathImportError('Reduction failed, possible invalid input')
    return object_type, _path_class(properties.get('classification')), reduced


def qupath_import(path: Path) -> List[Tuple[str, str, object]]:
    """What QuPath's ``PathIO.readObjects`` would import from a GeoJSON(.gz) file.

    Raises:
        QuPathImportError: NaN/Infinity, invalid geometry, a class without colour, ...
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)

    def no_constants(name):
        raise QuPathImportError(f'{name} is not JSON')
    root = json.loads(raw, parse_constant=no_constants)

    def walk(node):
        if isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif node.get('type') == 'FeatureCollection':
            yield from walk(node['features'])
        elif node.get('type') == 'Feature':
            yield _parse_object(node)
        else:
            yield 'annotation', None, shape(node)
    return list(walk(root))


def rasterise(geometries, shape, shift=(0.0, 0.0)) -> np.ndarray:
    """Label map (ids 1..N in order) of polygons, pixels by their centres.

    ``shift`` ``(x, y)`` is added to the coordinates first (e.g. a bounds origin).
    """
    from skimage.draw import polygon as draw_polygon
    labels = np.zeros(shape, np.int32)
    for index, geometry in enumerate(geometries, 1):
        for part in getattr(geometry, 'geoms', [geometry]):
            inside = np.zeros(shape, bool)
            rings = [part.exterior] + list(part.interiors)
            for k, ring in enumerate(rings):
                xy = np.asarray(ring.coords) + np.asarray(shift)
                rr, cc = draw_polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, shape)
                inside[rr, cc] = k == 0
            labels[inside] = index
    return labels
