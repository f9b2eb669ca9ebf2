"""Reading and writing images and instance label maps with clear errors.

Images: PNG/JPEG/BMP via Pillow, TIFF via tifffile (Pillow as fallback for
compressions tifffile cannot decode without ``imagecodecs``).
Label maps: 2-D integer arrays in PNG (uint8/uint16), TIFF (any integer
dtype) or NPY. Writes are atomic (see :mod:`mmcyclic.utils.atomic`).
"""
import io as _io
import os
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
from PIL import Image

from mmcyclic.utils.atomic import atomic_open, atomic_write_bytes

PathLike = Union[str, os.PathLike]
TIFF_SUFFIXES = ('.tif', '.tiff')
# Files read as images (:func:`read_image`); where one stem has several, the
# first suffix here is preferred by the callers that pick one.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
LABEL_SUFFIXES = ('.png', '.tif', '.tiff', '.npy')


class ImageReadError(IOError):
    """An image or label map could not be read; the message names the file."""


class ImageTooLargeError(ImageReadError):
    """An image has more pixels than allowed; nothing of it was read."""


def declared_image_shape(path: PathLike) -> Optional[Tuple[int, int]]:
    """``(height, width)`` as the file's header declares it, without decoding any pixel.

    Args:
        path: A TIFF (the first page of its first series, the full-resolution
            level of a pyramid) or any image Pillow opens.

    Returns:
        The declared shape, or None when no header can be read (the reader
        reports that file's problem).
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile
        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.series[0].pages[0] if tif.series else tif.pages[0]
                return int(page.imagelength), int(page.imagewidth)
        except Exception:  # noqa: BLE001 - not a TIFF tifffile reads; Pillow may
            pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as img:  # reads the header only
                return img.height, img.width
    except Exception:  # noqa: BLE001 - the reader reports it (also Pillow's bomb limit)
        return None


def check_image_size(name: Union[str, PathLike], shape: Optional[Tuple[int, int]],
                     max_pixels: int) -> None:
    """Refuse an image of more than ``max_pixels`` pixels.

    Args:
        name: The file (or ``'array'``), named in the error.
        shape: Its ``(height, width)``; None (unknown) passes.
        max_pixels: The limit.

    Raises:
        ImageTooLargeError: naming the size, the memory it needs and the fix.
    """
    if shape is None or shape[0] * shape[1] <= max_pixels:
        return
    height, width = shape
    pixels = height * width
    raise ImageTooLargeError(
        f'{name}: {width} x {height} pixels ({pixels / 1e6:.0f} Mpixels) is over the limit of '
        f'{max_pixels / 1e6:g} Mpixels (--max-pixels / inference.max_pixels); its label map '
        f'alone needs {4 * pixels / 2**30:.1f} GiB. Pass a higher --max-pixels if this image is '
        'meant and the memory and time are there, crop a region, or segment whole slides with '
        'tools/infer_wsi.py.')


def to_uint8(arr: np.ndarray, name: str = 'image') -> np.ndarray:
    """Pixels as uint8: 8-bit values kept, 16-bit values scaled to 0..255.

    Integer pixels that all fit 0..255 are kept as they are (an 8-bit image
    in a wider type). Other uint16 pixels are scaled by 255/65535 (the full
    16-bit range, rounded: ``round(v / 257)``); an image that uses fewer bits
    (e.g. 12-bit) comes out dark and is better converted by the user.

    Args:
        arr: Pixel array of any shape.
        name: The file or array, for the message.

    Raises:
        ImageReadError: any other dtype (float, signed or 32-bit integers
            above 255); the message says how to convert.
    """
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.integer) and arr.min(initial=0) >= 0 \
            and arr.max(initial=0) <= 255:
        return arr.astype(np.uint8)
    if arr.dtype == np.uint16:
        return np.round(arr / 257.0).astype(np.uint8)
    raise ImageReadError(
        f'{name}: expected 8-bit (or 16-bit) RGB, got dtype {arr.dtype}. Convert it to 8-bit RGB '
        'first, e.g. in Python: (img / img.max() * 255).round().astype("uint8"), or '
        '`magick in.tif -depth 8 out.tif`.')


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile
    try:
        return tifffile.imread(path)
    except MemoryError:
        shape = declared_image_shape(path)
        raise ImageReadError(
            f'{path}: its header declares {shape[1]} x {shape[0]} pixels, more than this '
            'machine can hold in memory. Crop a region, or segment whole slides with '
            'tools/infer_wsi.py.' if shape else f'{path}: out of memory reading it') from None
    except Exception as tiff_error:  # noqa: BLE001 - fall back to Pillow, report both
        try:
            with Image.open(path) as img:
                return np.asarray(img)
        except Exception as pil_error:
            raise ImageReadError(
                f'{path}: cannot read TIFF ({tiff_error}; Pillow: {pil_error}). '
                'The file may be truncated or use a compression that needs the '
                '"imagecodecs" package.') from pil_error


def read_image(path: PathLike) -> np.ndarray:
    """Read an RGB image as an ``H×W×3`` uint8 array.

    Grey images are repeated over three channels; an alpha channel is dropped;
    16-bit images are scaled to 8 bits (:func:`to_uint8`).

    Raises:
        ImageReadError: the file is missing, truncated or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f'{path}: no such file')
    if path.suffix.lower() in TIFF_SUFFIXES:
        arr = _read_tiff(path)
    else:
        try:
            with Image.open(path) as img:
                img.load()
                keep = img.mode in ('RGB', 'L') or img.mode.startswith('I;16')
                arr = np.asarray(img if keep else img.convert('RGB'))
        except Exception as error:
            raise ImageReadError(f'{path}: cannot read image ({error}). '
                                 'Is the file complete and an image?') from error
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ImageReadError(f'{path}: expected an RGB image, got an array of shape {arr.shape}')
    return np.ascontiguousarray(to_uint8(arr[..., :3], str(path)))


def read_label_map(path: PathLike) -> np.ndarray:
    """Read a 2-D instance label map (0 = background) as int64.

    Raises:
        ImageReadError: unreadable file, not 2-D, or not integer-valued.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f'{path}: no such file')
    suffix = path.suffix.lower()
    try:
        if suffix == '.npy':
            arr = np.load(path, allow_pickle=False)
        elif suffix in TIFF_SUFFIXES:
            arr = _read_tiff(path)
        else:
            with Image.open(path) as img:
                img.load()
                arr = np.asarray(img)
    except ImageReadError:
        raise
    except Exception as error:
        raise ImageReadError(f'{path}: cannot read label map ({error})') from error
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        raise ImageReadError(
            f'{path}: this is a colour image, not an instance label map. Save one '
            'integer id per nucleus (0 = background) as a single-channel PNG/TIFF/NPY.')
    if arr.ndim != 2:
        raise ImageReadError(f'{path}: a label map must be 2-D, got shape {arr.shape}')
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise ImageReadError(f'{path}: label map has non-integer dtype {arr.dtype}')
    return arr.astype(np.int64, copy=False)


def write_label_map(path: PathLike, label_map: np.ndarray) -> None:
    """Write an instance label map atomically.

    ``.png`` stores uint16 (ids must be < 65536), ``.tif``/``.tiff`` uint32,
    ``.npy`` the array as it is.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if label_map.ndim != 2:
        raise ValueError(f'{path}: a label map must be 2-D, got shape {label_map.shape}')
    max_id = int(label_map.max(initial=0))
    if suffix == '.npy':
        with atomic_open(path, 'wb') as handle:
            np.save(handle, label_map)
    elif suffix == '.png':
        if max_id > np.iinfo(np.uint16).max:
            raise ValueError(
                f'{path}: ids up to {max_id} do not fit a 16-bit PNG; use .tif or .npy')
        buffer = _io.BytesIO()
        Image.fromarray(label_map.astype(np.uint16)).save(buffer, format='PNG')
        atomic_write_bytes(path, buffer.getvalue())
    elif suffix in TIFF_SUFFIXES:
        import tifffile
        buffer = _io.BytesIO()
        tifffile.imwrite(buffer, label_map.astype(np.uint32), compression='zlib')
        atomic_write_bytes(path, buffer.getvalue())
    else:
        raise ValueError(f'{path}: unsupported label-map suffix; use one of {LABEL_SUFFIXES}')


def write_image(path: PathLike, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the suffix)."""
    path = Path(path)
    buffer = _io.BytesIO()
    fmt = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG', '.tif': 'TIFF', '.tiff': 'TIFF'}.get(
        path.suffix.lower())
    if fmt is None:
        raise ValueError(f'{path}: unsupported image suffix')
    Image.fromarray(image).save(buffer, format=fmt)
    atomic_write_bytes(path, buffer.getvalue())
