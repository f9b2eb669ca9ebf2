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

Lazy reading (:func:`open_image_source`)
    * numpy array: used as it is (already in memory).
    * TIFF, uncompressed and contiguous: memory-mapped; a tile reads only its rows.
    * TIFF, tiled or stripped and compressed (e.g. LZW, Deflate, JPEG): only the
      TIFF tiles/strips that a window touches are read and decoded, so memory is
      bounded by the tile size plus one TIFF tile/strip row.
    * Not lazy (decoded whole, once): PNG, JPEG and other Pillow formats, TIFFs
      whose single strip/tile exceeds :data:`MAX_LAZY_SEGMENT_PIXELS`, 3-D
      (tile-depth) or non-8-bit TIFFs, palette/CMYK TIFFs, and TIFFs tifffile
      cannot decode without falling back to Pillow.
"""
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmcyclic.datasets.io import (TIFF_SUFFIXES, ImageReadError, check_image_size,
                                  declared_image_shape, read_image, to_uint8)
from mmcyclic.datasets.patches import axis_origins
from mmcyclic.evaluation.stitching import (TilePrediction, Window, stitch_predictions_with_scores,
                                           tile_predictions_from_masks)
from mmcyclic.utils.memory import release_freed_memory

PathLike = Union[str, os.PathLike]
# A strip or TIFF tile above this many pixels is not decoded per window (a
# whole-image strip would be decoded once per tile): the page is read whole.
MAX_LAZY_SEGMENT_PIXELS = 1 << 22
# TIFF photometric interpretations whose decoded samples are RGB(A) or grey.
_PHOTOMETRIC_MINISBLACK, _PHOTOMETRIC_RGB, _PHOTOMETRIC_YCBCR = 1, 2, 6
_COMPRESSION_JPEG = 7
_PLANAR_SEPARATE = 2

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


def as_rgb_uint8(image: np.ndarray, name: str = 'image') -> np.ndarray:
    """Return ``image`` as ``H x W x 3`` uint8 (grey repeated, alpha dropped, 16-bit scaled).

    Raises:
        ImageReadError: not a 2-D/3-D 8- or 16-bit image (see :func:`to_uint8`).
    """
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageReadError(
            f'{name}: expected an H x W (x 1, 3 or 4) image, got shape {image.shape}')
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return to_uint8(image[..., :3], name)


class ArraySource:
    """An image already in memory.

    Args:
        image: ``H x W x 3`` RGB (or grey / RGBA) uint8 array.
        name: Used in messages.
    """

    lazy = False

    def __init__(self, image: np.ndarray, name: str = 'array') -> None:
        self.name = name
        self._image = as_rgb_uint8(np.asarray(image), name)
        self.shape: Tuple[int, int] = self._image.shape[:2]

    def read(self, window: Window) -> np.ndarray:
        """RGB pixels of ``window`` (a view when possible)."""
        y0, x0, y1, x1 = window
        return self._image[y0:y1, x0:x1]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> 'ArraySource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NotLazy(Exception):
    """The TIFF is readable but not window by window; read it whole."""


class TiffSource:
    """A TIFF page read window by window (see the module docstring for when).

    Use :func:`open_image_source`, which falls back to a whole read when the
    file cannot be read lazily.

    Args:
        path: The TIFF file. Its first series' first page (the full-resolution
            level of a pyramid) is read.

    Raises:
        ImageReadError: the file is truncated (a strip or tile lies past the
            end of the file).
        _NotLazy: tifffile cannot open or decode it window by window (it may
            still be readable whole, e.g. by Pillow).
    """

    lazy = True

    def __init__(self, path: PathLike) -> None:
        import tifffile
        self.name = str(path)
        try:
            self._tif = tifffile.TiffFile(path)
        except Exception as error:  # noqa: BLE001 - let read_image try Pillow and report both
            raise _NotLazy(f'tifffile cannot open it ({error})') from error
        try:
            self._init_page(os.path.getsize(path))
        except (_NotLazy, ImageReadError):
            self._tif.close()
            raise
        except Exception as error:  # noqa: BLE001 - a malformed file; read_image reports it
            self._tif.close()
            raise _NotLazy(f'unusual TIFF structure ({error})') from error

    def _init_page(self, file_size: int) -> None:
        series = self._tif.series
        page = series[0].pages[0] if series and len(series[0].pages) else None
        if page is None or not hasattr(page, 'decode'):
            raise _NotLazy('no plain TIFF page')
        self._page = page
        # YCbCr is converted to RGB only by the JPEG codec.
        ycbcr_ok = page.photometric == _PHOTOMETRIC_YCBCR and page.compression == _COMPRESSION_JPEG
        rgb_or_grey = page.photometric in (_PHOTOMETRIC_MINISBLACK, _PHOTOMETRIC_RGB) or ycbcr_ok
        if (page.dtype != np.uint8 or page.imagedepth > 1 or page.samplesperpixel not in (1, 3, 4)
                or not rgb_or_grey):
            raise _NotLazy('not an 8-bit RGB/grey 2-D page')
        self.shape = (int(page.imagelength), int(page.imagewidth))
        ends = np.asarray(page.dataoffsets, np.int64) + np.asarray(page.databytecounts, np.int64)
        if ends.size and ends.max() > file_size:
            raise ImageReadError(
                f'{self.name}: truncated TIFF (image data ends at byte {ends.max()}, the file has '
                f'{file_size} bytes). Copy or download it again.')
        self._separate = page.planarconfig == _PLANAR_SEPARATE
        self._samples = int(page.samplesperpixel)
        self._memmap = self._map(page) if page.is_memmappable else None
        if self._memmap is None:
            if page.is_tiled:
                self._seg_h, self._seg_w = int(page.tilelength), int(page.tilewidth)
            else:
                self._seg_h, self._seg_w = min(int(page.rowsperstrip), self.shape[0]), self.shape[1]
            if self._seg_h * self._seg_w > MAX_LAZY_SEGMENT_PIXELS:
                raise _NotLazy(f'one strip/tile holds {self._seg_h}x{self._seg_w} pixels')
            self._grid = (math.ceil(self.shape[0] / self._seg_h),
                          math.ceil(self.shape[1] / self._seg_w))
            planes = self._samples if self._separate else 1
            if len(page.dataoffsets) != planes * self._grid[0] * self._grid[1]:
                raise _NotLazy('unexpected number of strips/tiles')
            try:  # a compression tifffile cannot decode shows up here, not mid-inference
                self.read((0, 0, 1, 1))
            except ImageReadError as error:
                raise _NotLazy(str(error)) from error

    def _map(self, page) -> np.ndarray:
        """Memory-map an uncompressed, contiguous page as ``H x W x S``."""
        offset = page.dataoffsets[0]
        dtype = np.dtype(self._tif.byteorder + page.dtype.char)
        shape = ((self._samples, *self.shape) if self._separate else (*self.shape, self._samples))
        mapped = np.memmap(self._tif.filehandle.path, dtype=dtype, mode='r', offset=offset,
                           shape=shape)
        return np.moveaxis(mapped, 0, -1) if self._separate else mapped

    def read(self, window: Window) -> np.ndarray:
        """Decode only what ``window`` needs; return its RGB pixels.

        Raises:
            ImageReadError: a strip or tile cannot be decoded (corrupt data).
        """
        y0, x0, y1, x1 = window
        if self._memmap is not None:
            return as_rgb_uint8(np.array(self._memmap[y0:y1, x0:x1]), self.name)
        out = np.zeros((y1 - y0, x1 - x0, self._samples), np.uint8)
        page = self._page
        rows = range(y0 // self._seg_h, (y1 - 1) // self._seg_h + 1)
        cols = range(x0 // self._seg_w, (x1 - 1) // self._seg_w + 1)
        planes = range(self._samples) if self._separate else range(1)
        plane_size = self._grid[0] * self._grid[1]
        indices = [p * plane_size + r * self._grid[1] + c
                   for p in planes for r in rows for c in cols]
        try:
            segments = self._tif.filehandle.read_segments(
                [page.dataoffsets[i] for i in indices], [page.databytecounts[i] for i in indices],
                indices=indices, sort=True)
            for data, index in segments:
                decoded, position, _ = page.decode(data, index, jpegtables=page.jpegtables,
                                                   jpegheader=page.jpegheader)
                if decoded is None:  # an empty (sparse) tile: stays 0
                    continue
                self._paste(out, window, decoded[0], position)
        except ImageReadError:
            raise
        except Exception as error:  # noqa: BLE001 - codec errors come in many types
            raise ImageReadError(
                f'{self.name}: cannot decode the TIFF data of rows {y0}..{y1}, columns '
                f'{x0}..{x1} ({error}). The file may be corrupt.') from error
        return as_rgb_uint8(out, self.name)

    def _paste(self, out: np.ndarray, window: Window, segment: np.ndarray,
               position: Tuple[int, ...]) -> None:
        """Copy the part of a decoded strip/tile that lies inside ``window`` into ``out``."""
        y0, x0, y1, x1 = window
        sy, sx = int(position[2]), int(position[3])
        first_sample = int(position[0]) if self._separate else 0
        ty0, tx0 = max(y0, sy), max(x0, sx)
        ty1 = min(y1, sy + segment.shape[0], self.shape[0])
        tx1 = min(x1, sx + segment.shape[1], self.shape[1])
        if ty0 >= ty1 or tx0 >= tx1:
            return
        block = segment[ty0 - sy:ty1 - sy, tx0 - sx:tx1 - sx]
        out[ty0 - y0:ty1 - y0, tx0 - x0:tx1 - x0,
            first_sample:first_sample + block.shape[2]] = block

    def close(self) -> None:
        """Close the file."""
        self._memmap = None
        self._tif.close()

    def __enter__(self) -> 'TiffSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


ImageSource = Union[ArraySource, TiffSource]


def open_image_source(image: Union[np.ndarray, PathLike],
                      max_pixels: Optional[int] = None) -> ImageSource:
    """Wrap an array or open a file for window-by-window reading.

    Args:
        image: RGB array, or the path of a PNG/JPEG/TIFF/... file.
        max_pixels: Refuse an image of more pixels, checked on the array's shape
            or the file's header before any pixel is read (None: no limit).

    Returns:
        A source with ``name``, ``shape`` ``(H, W)``, ``lazy``, ``read(window)``
        and ``close()``; use it as a context manager.

    Raises:
        ImageReadError: the file is missing, truncated or not an 8-bit image.
        ImageTooLargeError: it has more than ``max_pixels`` pixels.
    """
    if isinstance(image, np.ndarray):
        if max_pixels is not None:
            check_image_size('array', image.shape[:2], max_pixels)
        return ArraySource(image)
    path = Path(image)
    if not path.is_file():
        raise ImageReadError(f'{path}: no such file')
    if max_pixels is not None:
        check_image_size(path, declared_image_shape(path), max_pixels)
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            return TiffSource(path)
        except _NotLazy:
            pass
    return ArraySource(read_image(path), name=str(path))


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
        source: The image (see :func:`open_image_source`).
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
