"""Tiled inference: cut an image of any size into overlapping tiles, predict, stitch once.

Tile grid
    Per axis of length ``L``, ``n`` tiles start at
    :func:`mmcyclic.datasets.patches.axis_origins`: the fewest tiles of
    ``tile_size`` that cover the axis with neighbours overlapping by **at
    least** ``overlap`` pixels, spread evenly so the first starts at 0 and the
    last ends at ``L``. With ``fit=True`` (the default) the tiles are then
    shrunk to the smallest side, a multiple of :data:`TILE_MULTIPLE` and at
    most ``tile_size``, with which those ``n`` tiles still cover the axis with
    that overlap: the detectors pad inputs to multiples of 32 anyway, and
    e.g. a 2000 px axis takes 5 tiles of 480 px (2400 px of model input)
    instead of 5 of 512 (2560 px). An axis shorter than ``tile_size`` gets one
    tile of length ``L`` (no padding), so an image no larger than a tile is
    segmented in one forward pass.

Why ``overlap`` must be at least the largest nucleus diameter
    Take the last tile that starts at or before a nucleus' first row: the next
    tile starts after that row, and the two overlap by ``>= overlap`` rows, so
    the tile reaches at least ``overlap`` rows past the nucleus' start. The same
    holds for columns, so a nucleus no wider or taller than ``overlap`` lies
    wholly inside at least one tile, where the model sees all of it.

Stitch rule
    All tiles' instances go through
    :func:`mmcyclic.evaluation.stitching.stitch_predictions_with_scores`, once,
    the rule evaluation uses, with ``whole_first=True``:

    1. Instances that do not come within 2 px of an inner tile edge (whole
       copies) are placed first, then those that do (copies cut by a tile
       border); within each group by decreasing score.
    2. An instance overlapping an already placed one *from another tile* is
       merged into it when their masks agree (IoU >= ``merge_iou``) inside the
       two tiles' shared window, where both tiles saw the same pixels (inside
       that window a cut copy *is* the visible part of the whole one).
    3. Otherwise it keeps only unclaimed pixels, and is dropped as a duplicate
       if that is under half its area.

    Because ``overlap`` >= the largest nucleus, every nucleus has a whole copy,
    which is placed before any of its cut copies; these then merge into it or
    are dropped. Without rule 1, cut copies scoring higher than the whole copy
    could be placed first as disjoint pieces that never merge (a seam).
    Nothing is cut at tile borders afterwards. A nucleus larger than
    ``overlap`` may have no whole copy; it is then stitched from its cut
    copies by score (rules 2-3), which usually, but not always, joins them.

Memory
    At any time one batch of tiles (``batch_size x tile_size^2 x 3`` bytes), the
    model's activations for it and its instances' masks are held (cropped to
    their boxes when the predictor returns :class:`TileInstances`, e.g.
    Mask R-CNN in :class:`~mmcyclic.apis.NucleiSegmenter`); each kept
    instance is then stored cropped to its bounding box
    (:class:`~mmcyclic.evaluation.stitching.TilePrediction`). The only
    full-size arrays are the int32 label map (4 bytes per pixel) and, unless the
    input is read lazily, the decoded image (3 bytes per pixel).

Reading
    Tiles are read through an image source (:mod:`mmcyclic.apis.image_sources`),
    which decodes only the part of a TIFF that a tile needs.
"""
import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmcyclic.datasets.patches import axis_origins
from mmcyclic.evaluation.stitching import (TilePrediction, Window, stitch_predictions_with_scores,
                                           tile_predictions_from_masks)
from mmcyclic.utils.memory import release_freed_memory

from .image_sources import ImageSource

# The detectors pad their inputs to multiples of this (mmdet's pad_size_divisor).
TILE_MULTIPLE = 32


@dataclass
class TileInstances:
    """The instances a model found in one tile, masks cropped to their boxes.

    Attributes:
        crops: Per instance, a boolean mask of its box.
        origins: ``(N, 2)`` int: ``(y, x)`` of each crop's top-left pixel in
            tile coordinates.
        scores: ``(N,)`` detection scores.
    """

    crops: List[np.ndarray]
    origins: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> 'TileInstances':
        """A tile without instances."""
        return cls([], np.zeros((0, 2), dtype=np.int64), np.zeros(0))

    @classmethod
    def from_masks(cls, masks: np.ndarray, scores: np.ndarray) -> 'TileInstances':
        """From full-tile boolean masks ``(N, h, w)``; empty masks are dropped."""
        predictions = tile_predictions_from_masks(np.asarray(masks, bool), np.asarray(scores),
                                                  (0, 0), np.shape(masks)[1:3])
        return cls([p.mask for p in predictions],
                   np.array([(p.y0, p.x0) for p in predictions], dtype=np.int64).reshape(-1, 2),
                   np.array([p.score for p in predictions], dtype=np.float64))

    def in_image(self, window: Window, score_thr: float) -> List[TilePrediction]:
        """The instances scoring at least ``score_thr``, placed in the full image."""
        y0, x0 = window[:2]
        return [TilePrediction(crop, y0 + int(oy), x0 + int(ox), float(score), window)
                for crop, (oy, ox), score in zip(self.crops, self.origins, self.scores)
                if score >= score_thr and crop.any()]


# predictor(tiles) -> per tile, TileInstances or (full-tile masks (N, h, w) bool, scores (N,)).
TilePredictor = Callable[[Sequence['Tile']],
                         List[Union[TileInstances, Tuple[np.ndarray, np.ndarray]]]]
# on_tile(done, total) is called after each batch of tiles.
TileCallback = Callable[[int, int], None]


@dataclass
class Tile:
    """One tile of an image.

    Attributes:
        image: RGB uint8 pixels, ``h x w x 3``.
        window: ``(y0, x0, y1, x1)`` of the tile in the full image.
    """

    image: np.ndarray
    window: Window


def axis_tiles(length: int, tile_size: int, overlap: int,
               fit: bool = True) -> Tuple[int, List[int]]:
    """Tile side and tile origins along one axis (module docstring, *Tile grid*).

    Raises:
        ValueError: on non-positive sizes or an overlap outside ``[0, tile_size)``.
    """
    origins = axis_origins(length, tile_size, min_overlap=overlap)
    if len(origins) == 1:
        return min(length, tile_size), origins
    if not fit:
        return tile_size, origins
    num = len(origins)
    side = TILE_MULTIPLE * math.ceil((length + (num - 1) * overlap) / num / TILE_MULTIPLE)
    side = min(max(side, overlap + 1), tile_size)
    return side, axis_origins(length, side, num=num, min_overlap=overlap)


def tile_windows(height: int, width: int, tile_size: int, overlap: int,
                 fit: bool = True) -> List[Window]:
    """Windows ``(y0, x0, y1, x1)`` of the overlapping tile grid, row by row.

    Args:
        height: Image height.
        width: Image width.
        tile_size: Largest tile side (tiles are smaller along an axis shorter than it,
            and with ``fit`` where a smaller side covers the axis with as many tiles).
        overlap: Smallest overlap between neighbouring tiles (``0 <= overlap < tile_size``).
        fit: Shrink the tiles to the smallest side that keeps their number and overlap.

    Raises:
        ValueError: on non-positive sizes or an overlap outside ``[0, tile_size)``.
    """
    side_y, ys = axis_tiles(height, tile_size, overlap, fit)
    side_x, xs = axis_tiles(width, tile_size, overlap, fit)
    return [(y, x, min(y + side_y, height), min(x + side_x, width)) for y in ys for x in xs]


def segment_tiled(source: ImageSource,
                  predictor: TilePredictor,
                  tile_size: int,
                  overlap: int,
                  batch_size: int = 1,
                  score_thr: float = 0.5,
                  merge_iou: float = 0.5,
                  on_tile: Optional[TileCallback] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Predict every tile of ``source`` and stitch the instances into one label map.

    Args:
        source: The image (see :func:`~mmcyclic.apis.image_sources.open_image_source`).
        predictor: Maps a batch of :class:`Tile` to, per tile, its
            :class:`TileInstances` or ``(masks, scores)`` with full-tile masks.
        tile_size: Tile side in pixels.
        overlap: Smallest overlap between neighbouring tiles; make it at least
            the largest nucleus diameter (module docstring).
        batch_size: Tiles per predictor call.
        score_thr: Instances scoring below this are discarded before stitching.
        merge_iou: See :func:`~mmcyclic.evaluation.stitching.stitch_predictions`.
        on_tile: Called as ``on_tile(done, total)`` after each batch.

    Returns:
        ``(label_map, scores)``: int32 ``H x W`` ids 1..N (0 = background) and
        the N scores (``scores[i - 1]`` belongs to id ``i``).
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    windows = tile_windows(*source.shape, tile_size, overlap)
    predictions: List[TilePrediction] = []
    for start in range(0, len(windows), batch_size):
        batch = [Tile(source.read(w), w) for w in windows[start:start + batch_size]]
        for tile, found in zip(batch, predictor(batch)):
            if not isinstance(found, TileInstances):
                found = TileInstances.from_masks(*found)
            predictions += found.in_image(tile.window, score_thr)
        del batch
        release_freed_memory()
        if on_tile is not None:
            on_tile(min(start + batch_size, len(windows)), len(windows))
    return stitch_predictions_with_scores(predictions, source.shape, merge_iou=merge_iou,
                                          whole_first=True)
