"""Aperio XML polygon annotations (MoNuSeg) -> instance label map.

MoNuSeg ships one ``<id>.xml`` per image: ``Annotations/Annotation/Regions/
Region/Vertices/Vertex`` with ``X``/``Y`` in pixel coordinates (``X`` =
column, ``Y`` = row). Each ``Region`` is one nucleus outline. Rules, every
case counted in the per-image log:

* fewer than 3 distinct vertices -> skipped (``skipped_too_few_points``);
* entirely outside the image -> skipped (``skipped_outside_image``);
  partly outside -> clipped to the image (``clipped_to_image``);
* the outline crosses itself -> rasterised with the even-odd rule of
  :func:`skimage.draw.polygon`, then its holes are filled, since a nucleus
  has none (``self_intersecting_rasterised``). A self-crossing outline thus
  becomes the region it encloses; a figure-eight keeps both lobes (as one id);
* all vertices on one line, or no pixel centre inside after rasterisation ->
  skipped (``skipped_zero_area``). :func:`skimage.draw.polygon` counts pixel
  centres on the outline as inside, so a polygon covers its boundary pixels;
* overlapping polygons: a later polygon does **not** overwrite pixels of an
  earlier one (``overlapping_polygons``, ``overlap_pixels``); a polygon left
  with no pixel of its own is skipped (``skipped_fully_overlapped``).

Hence: instances written = ``regions`` - sum of the ``skipped_*`` counts.
"""
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as draw_polygon

from .writer import ConversionError

PathLike = Union[str, os.PathLike]
XML_COUNT_KEYS = ('regions', 'skipped_too_few_points', 'skipped_outside_image',
                  'skipped_zero_area', 'skipped_fully_overlapped', 'self_intersecting_rasterised',
                  'clipped_to_image', 'overlapping_polygons', 'overlap_pixels')


def parse_aperio_xml(path: PathLike) -> List[Tuple[str, np.ndarray]]:
    """Read the polygons of an Aperio XML file.

    Args:
        path: The ``.xml`` file.

    Returns:
        ``[(region_id, xy), ...]`` in document order, ``xy`` an ``N x 2`` float
        array of ``(X, Y)`` = (column, row) vertices.

    Raises:
        ConversionError: the file is unreadable, not XML, not an Aperio
            annotation file, or a vertex lacks a numeric ``X``/``Y``.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ConversionError(f'{path}: malformed XML ({error})', 'malformed_annotation') from error
    except OSError as error:
        raise ConversionError(f'{path}: cannot read ({error})', 'unreadable') from error
    if root.tag != 'Annotations' and root.find('.//Region') is None:
        raise ConversionError(f'{path}: not an Aperio annotation file (root <{root.tag}>, '
                              'no <Region>)', 'malformed_annotation')
    polygons = []
    for index, region in enumerate(root.iter('Region')):
        region_id = region.get('Id', f'#{index}')
        try:
            xy = [(float(v.attrib['X']), float(v.attrib['Y'])) for v in region.iter('Vertex')]
        except (KeyError, ValueError) as error:
            raise ConversionError(f'{path}: region {region_id} has a vertex without a numeric '
                                  f'X/Y ({error!r})', 'malformed_annotation') from error
        polygons.append((region_id, np.asarray(xy, dtype=np.float64).reshape(-1, 2)))
    return polygons


def _dedupe_consecutive(xy: np.ndarray) -> np.ndarray:
    """Drop vertices equal to their predecessor (incl. a closing copy of the first)."""
    keep = np.any(xy != np.roll(xy, 1, axis=0), axis=1)
    return xy[keep] if keep.any() else xy[:1]


def _drop_straight_vertices(pts: np.ndarray) -> np.ndarray:
    """Drop vertices in the middle of a straight run; the outline is unchanged.

    MoNuSeg outlines are traced in 0.2 px steps with long straight runs, so
    this halves the vertices and quarters the cost of the crossing test.
    """
    before, after = pts - np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0) - pts
    cross = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    straight = (cross == 0) & (np.sum(before * after, axis=1) > 0)
    return pts[~straight] if (~straight).sum() >= 3 else pts


def _collinear(xy: np.ndarray) -> bool:
    """Whether all vertices lie on one straight line (the polygon has no area)."""
    rel = xy - xy[0]
    far = rel[np.argmax(np.abs(rel).sum(axis=1))]
    return bool(np.all(np.abs(rel[:, 0] * far[1] - rel[:, 1] * far[0]) < 1e-9))


def self_intersects(xy: np.ndarray) -> bool:
    """Whether two non-adjacent edges of the closed polygon cross properly.

    Touching or collinear overlapping edges (e.g. an outline that retraces a
    step) do not count: they do not change the even-odd raster.
    """
    pts = _drop_straight_vertices(_dedupe_consecutive(xy))
    n = len(pts)
    if n < 4:
        return False
    a, d = pts, np.roll(pts, -1, axis=0) - pts  # edge i: a[i] -> a[i] + d[i]

    def cross(u, v):
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    rel_a = a[None, :, :] - a[:, None, :]          # [i, j] = a_j - a_i
    rel_b = rel_a + d[None, :, :]                  # b_j - a_i
    side_j = cross(d[:, None, :], rel_a) * cross(d[:, None, :], rel_b)  # a_j, b_j vs edge i
    crossing = (side_j < 0) & (side_j.T < 0)
    pairs = np.triu(np.ones((n, n), dtype=bool), k=2)  # non-adjacent i < j
    pairs[0, n - 1] = False                            # first and last edges share a vertex
    return bool(np.any(crossing & pairs))


def polygons_to_label_map(polygons: List[Tuple[str, np.ndarray]], height: int, width: int,
                          source: str = '', coordinate_offset: float = 0.0
                          ) -> Tuple[np.ndarray, Dict[str, int], List[str]]:
    """Rasterise polygons into an instance label map with the module's rules.

    Args:
        polygons: ``[(region_id, xy), ...]`` as from :func:`parse_aperio_xml`.
        height: Image height.
        width: Image width.
        source: Name of the annotation file, used in messages.
        coordinate_offset: Subtracted from every ``X``/``Y`` before
            rasterising. 0 (default): pixel ``(row r, col c)`` is inside when
            its centre ``(X=c, Y=r)`` is. 1 reproduces 1-based (MATLAB
            ``poly2mask``) rasters such as the published MoNuSeg masks, which
            lie one pixel up-left of the 0-offset raster (on the MoNuSeg
            images the 0-offset raster follows the nucleus edges at least as
            well; see ``docs/data_format.md``).

    Returns:
        ``(label_map, counts, messages)``: int32 label map with ids 1..n in
        polygon order, counts keyed by :data:`XML_COUNT_KEYS`, and one message
        per skipped or repaired polygon.
    """
    label_map = np.zeros((height, width), dtype=np.int32)
    counts = dict.fromkeys(XML_COUNT_KEYS, 0)
    counts['regions'] = len(polygons)
    messages: List[str] = []
    next_id = 1

    def skip(reason: str, region_id: str, what: str) -> None:
        counts[reason] += 1
        messages.append(f'{source}: region {region_id}: {what}, skipped')

    for region_id, xy in polygons:
        xy = xy - coordinate_offset
        if len(xy) == 0 or len(np.unique(xy, axis=0)) < 3:
            skip('skipped_too_few_points', region_id, f'{len(np.unique(xy, axis=0))} distinct '
                 'point(s), a polygon needs 3')
            continue
        if _collinear(xy):
            # skimage.draw.polygon would draw such an outline as a line of pixels.
            skip('skipped_zero_area', region_id, 'all points on one line (no area)')
            continue
        x, y = xy[:, 0], xy[:, 1]
        if x.max() < 0 or y.max() < 0 or x.min() > width - 1 or y.min() > height - 1:
            skip('skipped_outside_image', region_id, 'entirely outside the image')
            continue
        if x.min() < 0 or y.min() < 0 or x.max() > width - 1 or y.max() > height - 1:
            counts['clipped_to_image'] += 1
        # Rasterise in the polygon's box only (clipped to the image).
        r0, c0 = max(int(np.floor(y.min())), 0), max(int(np.floor(x.min())), 0)
        r1 = min(int(np.ceil(y.max())), height - 1) + 1
        c1 = min(int(np.ceil(x.max())), width - 1) + 1
        mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        rr, cc = draw_polygon(y - r0, x - c0, shape=mask.shape)
        mask[rr, cc] = True
        if self_intersects(xy):
            counts['self_intersecting_rasterised'] += 1
            mask = ndimage.binary_fill_holes(mask)
            messages.append(f'{source}: region {region_id}: self-intersecting outline, '
                            'rasterised (even-odd) with holes filled')
        area = int(mask.sum())
        if area == 0:
            skip('skipped_zero_area', region_id, 'no pixel inside after rasterisation')
            continue
        window = label_map[r0:r1, c0:c1]
        free = mask & (window == 0)
        overlap = area - int(free.sum())
        if overlap:
            counts['overlapping_polygons'] += 1
            counts['overlap_pixels'] += overlap
        if not free.any():
            skip('skipped_fully_overlapped', region_id, 'every pixel already belongs to an '
                 'earlier polygon')
            continue
        window[free] = next_id
        next_id += 1
    return label_map, counts, messages


def xml_to_label_map(path: PathLike, height: int, width: int, coordinate_offset: float = 0.0
                     ) -> Tuple[np.ndarray, Dict[str, int], List[str]]:
    """Parse an Aperio XML file and rasterise it; see :func:`polygons_to_label_map`."""
    return polygons_to_label_map(parse_aperio_xml(path), height, width, str(path),
                                 coordinate_offset)
