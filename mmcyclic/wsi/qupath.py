"""QuPath GeoJSON in both directions: annotations in, detections out.

Reading (:func:`read_qupath_objects`) mirrors QuPath's own reader
(``PathIO.readObjects`` / ``GsonTools`` / ``PathObjectTypeAdapter.parseObject``):

* files: ``.geojson`` / ``.json``, gzip-compressed or not (by content, so
  ``.geojson.gz`` works);
* top level: a FeatureCollection, a bare array of Features (recursively), one
  Feature, or a bare geometry (an annotation);
* ``objectType`` from ``properties.objectType``, else the legacy
  ``properties.object_type``, else ``annotation`` (QuPath's default);
* class from ``classification``: a string, ``{"name": ...}``, ``{"names": [...]}``
  (joined by ``": "``, QuPath's derived classes);
* geometry: Polygon / MultiPolygon with holes; a GeometryCollection is reduced
  to its polygonal parts; ``plane`` is ignored (2-D only); invalid geometries
  are repaired with ``shapely.make_valid`` and counted.

Every object that is not used is counted by reason in :class:`ObjectReport`.

Writing: :func:`detection_feature` builds one Feature the way QuPath imports
detections (``properties.objectType = "detection"``, ``classification`` with
name *and* colour, ``measurements`` as a list of ``{name, value}``), with the
geometry snapped to QuPath's 0.01 px grid by :func:`snap_to_qupath_grid`, and
:func:`write_feature_collection` streams a FeatureCollection into a gzip file
atomically, with ``allow_nan=False``.
"""
import gzip
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, mapping, shape

from mmcyclic.utils.atomic import atomic_open

PathLike = Union[str, os.PathLike]
# QuPath 0.6+ reduces coordinates to this grid on import (PrecisionModel(-0.01)).
QUPATH_GRID = 0.01
_GEOMETRY_TYPES = {'Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon',
                   'MultiPolygon', 'GeometryCollection'}
_OBJECT_TYPES = {'annotation', 'detection', 'cell', 'tile', 'tmaCore', 'root'}


@dataclass
class QuPathObject:
    """One object of a QuPath export.

    Attributes:
        geometry: Polygonal shapely geometry, in the file's (QuPath's) pixel frame.
        object_type: ``annotation``, ``detection``, ``cell``, ...
        class_name: The classification, or ``None`` (unclassified).
        name: The object's name, if any.
    """

    geometry: Any
    object_type: str
    class_name: Optional[str]
    name: Optional[str] = None


@dataclass
class ObjectReport:
    """What was read from one file.

    Attributes:
        path: The file.
        skipped: ``{reason: count}`` of objects not returned.
        repaired: Invalid geometries repaired with ``make_valid``.
    """

    path: str
    skipped: Counter = field(default_factory=Counter)
    repaired: int = 0


class QuPathFileError(ValueError):
    """A file is not readable as QuPath GeoJSON; the message names it."""


def _load_json(path: Path) -> Any:
    with open(path, 'rb') as handle:
        gzipped = handle.read(2) == b'\x1f\x8b'
    try:
        opener = gzip.open if gzipped else open
        with opener(path, 'rt', encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QuPathFileError(f'{path}: not a readable GeoJSON file ({error}). Export it from '
                              'QuPath with File > Export objects as GeoJSON.') from None


def class_name_of(classification: Any) -> Optional[str]:
    """The class name QuPath reads from a ``classification`` value (``None``: unclassified)."""
    if isinstance(classification, str):
        return classification or None
    if isinstance(classification, dict):
        if classification.get('names'):
            return ': '.join(str(n) for n in classification['names'])
        if classification.get('name'):
            return str(classification['name'])
    return None


def polygonal_part(geometry) -> Optional[Any]:
    """The polygonal part of a shapely geometry (``None`` if it has none)."""
    if isinstance(geometry, (Polygon, MultiPolygon)):
        return None if geometry.is_empty else geometry
    if isinstance(geometry, GeometryCollection):
        polygons = []
        for part in geometry.geoms:
            found = polygonal_part(part)
            polygons += list(getattr(found, 'geoms', [found] if found else []))
        return MultiPolygon(polygons) if polygons else None
    return None


def _features(node: Any, report: ObjectReport) -> Iterable[Tuple[dict, dict]]:
    """``(geometry, properties)`` of every object in a parsed file."""
    if isinstance(node, list):
        for item in node:
            yield from _features(item, report)
    elif isinstance(node, dict) and node.get('type') == 'FeatureCollection':
        yield from _features(node.get('features') or [], report)
    elif isinstance(node, dict) and node.get('type') == 'Feature':
        yield node.get('geometry') or {}, node.get('properties') or {}
    elif isinstance(node, dict) and node.get('type') in _GEOMETRY_TYPES:
        yield node, {}
    else:
        report.skipped['not a GeoJSON Feature or geometry'] += 1


def read_qupath_objects(path: PathLike) -> Tuple[List[QuPathObject], ObjectReport]:
    """Read every polygonal object of a QuPath GeoJSON export (module docstring).

    Raises:
        QuPathFileError: the file is not JSON.
    """
    path = Path(path)
    report = ObjectReport(str(path))
    objects = []
    for geometry, properties in _features(_load_json(path), report):
        object_type = properties.get('objectType', properties.get('object_type', 'annotation'))
        if object_type not in _OBJECT_TYPES:
            object_type = 'annotation'  # QuPath: unknown -> annotation
        try:
            parsed = shape(geometry)
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as error:
            report.skipped[f'unreadable geometry ({type(error).__name__})'] += 1
            continue
        if not parsed.is_valid:
            parsed = shapely.make_valid(parsed)
            report.repaired += 1
        polygons = polygonal_part(parsed)
        if polygons is None:
            reason = 'empty geometry' if parsed.is_empty else f'not an area ({parsed.geom_type})'
            report.skipped[reason] += 1
            continue
        objects.append(QuPathObject(polygons, object_type,
                                    class_name_of(properties.get('classification')),
                                    properties.get('name')))
    return objects, report


def snap_to_qupath_grid(geometry) -> Tuple[Optional[Any], bool]:
    """Snap to QuPath's 0.01 px grid and make sure the result is a valid area.

    Returns:
        ``(geometry or None if nothing is left, whether it had to be repaired)``.
    """
    repaired = not geometry.is_valid
    if repaired:
        geometry = shapely.make_valid(geometry)
    try:
        snapped = shapely.set_precision(geometry, QUPATH_GRID)
    except shapely.errors.GEOSException:  # GEOS cannot reduce it: repair, then reduce
        snapped, repaired = None, True
    if snapped is None or not snapped.is_valid:
        snapped = shapely.set_precision(shapely.make_valid(snapped or geometry), QUPATH_GRID)
        repaired = True
    polygons = polygonal_part(snapped)
    if polygons is None or not polygons.is_valid:
        return None, True
    return polygons, repaired


def detection_feature(geometry, class_name: str, color: Sequence[int],
                      measurements: Dict[str, float],
                      object_type: str = 'detection') -> Dict[str, Any]:
    """One QuPath Feature (module docstring); ``geometry`` already snapped.

    ``object_type='annotation'`` makes an editable annotation instead (e.g. a tissue outline).
    """
    return {
        'type': 'Feature',
        'geometry': mapping(geometry),
        'properties': {
            'objectType': object_type,
            'classification': {'name': class_name, 'color': [int(c) for c in color]},
            'measurements': [{'name': k, 'value': v} for k, v in measurements.items()],
        },
    }


def write_feature_collection(path: PathLike, features: Iterable[Dict[str, Any]],
                             foreign: Optional[Dict[str, Any]] = None) -> int:
    """Stream a FeatureCollection into ``path`` (gzip when it ends in ``.gz``), atomically.

    The gzip header carries no time stamp or name, so the same features give
    the same bytes. NaN or infinity anywhere raises ``ValueError``.

    Args:
        path: The output file.
        features: Feature dicts, written in order.
        foreign: A foreign member written next to ``features`` (provenance;
            QuPath reads only ``features``).

    Returns:
        The number of features written.
    """
    path = Path(path)
    count = 0
    with atomic_open(path, 'wb') as raw:
        stream = (gzip.GzipFile(filename='', mode='wb', fileobj=raw, compresslevel=6, mtime=0)
                  if path.suffix == '.gz' else raw)
        head = {'type': 'FeatureCollection'}
        if foreign:
            head.update(foreign)
        stream.write(json.dumps(head, allow_nan=False, ensure_ascii=False)[:-1].encode())
        stream.write(b', "features": [')
        for feature in features:
            if count:
                stream.write(b',\n')
            stream.write(json.dumps(feature, allow_nan=False, separators=(',', ':'),
                                    ensure_ascii=False).encode())
            count += 1
        stream.write(b']}\n')
        if stream is not raw:
            stream.close()
    return count
