"""Image sources: read an image window by window (arrays, TIFF pages, whole files).

A source has ``name``, ``shape`` ``(H, W)``, ``lazy``, ``read(window)`` returning
RGB uint8 pixels of ``window = (y0, x0, y1, x1)``, and ``close()``; use it as a
context manager. :func:`open_image_source` picks one for an array or a file;
whole-slide pyramids are read through :mod:`mmcyclic.wsi.slide`, whose
tifffile backend reads each pyramid level with a :class:`TiffPageReader`.

What is read lazily
    * numpy array: used as it is (already in memory).
    * TIFF, uncompressed and contiguous: memory-mapped; a window reads only its rows.
    * TIFF, tiled or stripped and compressed (e.g. LZW, Deflate, JPEG): only the
      TIFF tiles/strips that a window touches are read and decoded, so memory is
      bounded by the window plus one TIFF tile/strip row.
    * Not lazy (decoded whole, once): PNG, JPEG and other Pillow formats, TIFFs
      whose single strip/tile exceeds :data:`MAX_LAZY_SEGMENT_PIXELS`, 3-D
      (tile-depth) or non-8-bit TIFFs, palette/CMYK TIFFs, and TIFFs tifffile
      cannot decode without falling back to Pillow.
"""
import math
import os
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from mmcyclic.datasets.io import (TIFF_SUFFIXES, ImageReadError, check_image_size,
                                  declared_image_shape, read_image, to_uint8)
from mmcyclic.evaluation.stitching import Window

PathLike = Union[str, os.PathLike]
# A strip or TIFF tile above this many pixels is not decoded per window (a
# whole-image strip would be decoded once per tile): the page is read whole.
MAX_LAZY_SEGMENT_PIXELS = 1 << 22
# TIFF photometric interpretations whose decoded samples are RGB(A) or grey.
_PHOTOMETRIC_MINISBLACK, _PHOTOMETRIC_RGB, _PHOTOMETRIC_YCBCR = 1, 2, 6
_COMPRESSION_JPEG = 7
_PLANAR_SEPARATE = 2


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


class NotLazyError(Exception):
    """The TIFF page is readable but not window by window; read it whole."""


class TiffPageReader:
    """One page of an open ``tifffile.TiffFile``, read window by window.

    The reader does not own the file: whoever opened the ``TiffFile`` closes it.

    Args:
        tif: The open file.
        page: One of its pages (e.g. a pyramid level's first page).
        name: Used in messages (the file's path).

    Attributes:
        shape: ``(H, W)`` of the page.
        memory_mapped: Whether windows are read from a memory map (uncompressed,
            contiguous data) rather than decoded per TIFF tile/strip.

    Raises:
        ImageReadError: a strip or tile lies past the end of the file (truncated).
        NotLazyError: the page cannot be decoded window by window.
    """

    def __init__(self, tif, page, name: str) -> None:
        self.name = name
        self._tif = tif
        if page is None or not hasattr(page, 'decode'):
            raise NotLazyError('no plain TIFF page')
        self._page = page
        # YCbCr is converted to RGB only by the JPEG codec.
        ycbcr_ok = page.photometric == _PHOTOMETRIC_YCBCR and page.compression == _COMPRESSION_JPEG
        rgb_or_grey = page.photometric in (_PHOTOMETRIC_MINISBLACK, _PHOTOMETRIC_RGB) or ycbcr_ok
        if (page.dtype != np.uint8 or page.imagedepth > 1 or page.samplesperpixel not in (1, 3, 4)
                or not rgb_or_grey):
            raise NotLazyError('not an 8-bit RGB/grey 2-D page')
        self.shape: Tuple[int, int] = (int(page.imagelength), int(page.imagewidth))
        file_size = os.path.getsize(tif.filehandle.path)
        ends = np.asarray(page.dataoffsets, np.int64) + np.asarray(page.databytecounts, np.int64)
        if ends.size and ends.max() > file_size:
            raise ImageReadError(
                f'{name}: truncated TIFF (image data ends at byte {ends.max()}, the file has '
                f'{file_size} bytes). Copy or download it again.')
        self._separate = page.planarconfig == _PLANAR_SEPARATE
        self._samples = int(page.samplesperpixel)
        self._memmap = self._map(page) if page.is_memmappable else None
        self.memory_mapped = self._memmap is not None
        if self._memmap is None:
            if page.is_tiled:
                self._seg_h, self._seg_w = int(page.tilelength), int(page.tilewidth)
            else:
                self._seg_h, self._seg_w = min(int(page.rowsperstrip), self.shape[0]), self.shape[1]
            if self._seg_h * self._seg_w > MAX_LAZY_SEGMENT_PIXELS:
                raise NotLazyError(f'one strip/tile holds {self._seg_h}x{self._seg_w} pixels')
            self._grid = (math.ceil(self.shape[0] / self._seg_h),
                          math.ceil(self.shape[1] / self._seg_w))
            planes = self._samples if self._separate else 1
            if len(page.dataoffsets) != planes * self._grid[0] * self._grid[1]:
                raise NotLazyError('unexpected number of strips/tiles')
            try:  # a compression tifffile cannot decode shows up here, not mid-inference
                self.read((0, 0, 1, 1))
            except ImageReadError as error:
                raise NotLazyError(str(error)) from error

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

    def release(self) -> None:
        """Drop the memory map (the file itself is closed by its owner)."""
        self._memmap = None


def open_tiff(path: PathLike):
    """Open ``path`` with tifffile.

    Raises:
        NotLazyError: tifffile cannot open it (Pillow may still read it whole).
    """
    import tifffile
    try:
        return tifffile.TiffFile(path)
    except Exception as error:  # noqa: BLE001 - let read_image try Pillow and report both
        raise NotLazyError(f'tifffile cannot open it ({error})') from error


class TiffSource:
    """The first page of a TIFF (a pyramid's full-resolution level), read window by window.

    Use :func:`open_image_source`, which falls back to a whole read when the
    file cannot be read lazily.

    Args:
        path: The TIFF file; its first series' first page is read.

    Raises:
        ImageReadError: the file is truncated.
        NotLazyError: tifffile cannot open or decode it window by window.
    """

    lazy = True

    def __init__(self, path: PathLike) -> None:
        self.name = str(path)
        self._tif = open_tiff(path)
        try:
            series = self._tif.series
            page = series[0].pages[0] if series and len(series[0].pages) else None
            self.page_reader = TiffPageReader(self._tif, page, self.name)
        except (NotLazyError, ImageReadError):
            self._tif.close()
            raise
        except Exception as error:  # noqa: BLE001 - a malformed file; read_image reports it
            self._tif.close()
            raise NotLazyError(f'unusual TIFF structure ({error})') from error
        self.shape = self.page_reader.shape

    def read(self, window: Window) -> np.ndarray:
        """RGB pixels of ``window`` (see :meth:`TiffPageReader.read`)."""
        return self.page_reader.read(window)

    def close(self) -> None:
        """Close the file."""
        self.page_reader.release()
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
        except NotLazyError:
            pass
    return ArraySource(read_image(path), name=str(path))
