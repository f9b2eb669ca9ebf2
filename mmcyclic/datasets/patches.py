"""Grid of overlapping square patches over a full image, as the paper cuts them.

The paper cuts each 1000x1000 MoNuSeg image into 16 overlapping 256x256
patches: a 4x4 grid with stride (1000 - 256) / 3 = 248, origins 0, 248, 496,
744. The general rule, per axis of length ``L`` and patch size ``P``:

* use the fewest patches ``n`` that cover the axis while neighbours overlap by
  at least ``min_overlap`` pixels: ``n = 1 + ceil((L - P) / (P - min_overlap))``
  (``min_overlap=0`` gives ``n = ceil(L / P)``, i.e. 4 for 1000 / 256);
* spread them evenly: origin ``i`` is ``round(i * (L - P) / (n - 1))``, so the
  first patch starts at 0, the last ends at ``L`` and the overlap is shared
  equally (to within one pixel) between neighbours.

An axis shorter than ``P`` gets one patch at origin 0 that is **shorter than**
``P``: :func:`crop_patch` returns the whole axis and does not pad unless asked
(``pad_value``), because padding would add tissue-free pixels that look like
real background to the detector. The COCO ``height``/``width`` of such a patch
record its true size.
"""
import math
from typing import List, Optional, Tuple

import numpy as np


def axis_origins(length: int, patch_size: int = 256, num: Optional[int] = None,
                 min_overlap: int = 0) -> List[int]:
    """Patch start positions along one axis.

    Args:
        length: Axis length in pixels (> 0).
        patch_size: Patch side in pixels (> 0).
        num: Number of patches; default: the fewest that cover the axis with
            ``min_overlap``. Must not be smaller than that.
        min_overlap: Smallest overlap between neighbouring patches
            (``0 <= min_overlap < patch_size``).

    Returns:
        Increasing origins; ``[0]`` when ``length <= patch_size``.

    Raises:
        ValueError: on non-positive sizes or a ``num`` that cannot cover the axis.
    """
    if length <= 0 or patch_size <= 0:
        raise ValueError(f'length ({length}) and patch_size ({patch_size}) must be positive')
    if not 0 <= min_overlap < patch_size:
        raise ValueError(f'min_overlap must be in [0, patch_size), got {min_overlap}')
    if length <= patch_size:
        if num not in (None, 1):
            raise ValueError(f'an axis of {length} px fits one {patch_size} px patch, not {num}')
        return [0]
    needed = 1 + math.ceil((length - patch_size) / (patch_size - min_overlap))
    if num is None:
        num = needed
    elif num < needed:
        raise ValueError(f'{num} patches of {patch_size} px cannot cover {length} px with '
                         f'an overlap of at least {min_overlap} px; use at least {needed}')
    if num == 1:
        return [0]
    step = (length - patch_size) / (num - 1)
    # int(x + 0.5) rounds halves up, so the grid does not depend on banker's rounding.
    return [int(i * step + 0.5) for i in range(num)]


def patch_origins(height: int, width: int, patch_size: int = 256,
                  num_per_side: Optional[int] = None,
                  min_overlap: int = 0) -> List[Tuple[int, int]]:
    """Top-left corners ``(x0, y0)`` of the patch grid, row by row.

    Args:
        height: Image height.
        width: Image width.
        patch_size: Patch side.
        num_per_side: Patches per axis (both axes); default: the fewest that
            cover each axis (see the module docstring).
        min_overlap: Smallest overlap between neighbouring patches.

    Returns:
        ``[(x0, y0), ...]`` with ``y0`` the slow index; patch ``k`` of an image
        is ``origins[k]``. A 1000x1000 image with ``patch_size=256`` gives the
        4x4 grid ``{0, 248, 496, 744}^2``.
    """
    ys = axis_origins(height, patch_size, num_per_side if height > patch_size else None,
                      min_overlap)
    xs = axis_origins(width, patch_size, num_per_side if width > patch_size else None,
                      min_overlap)
    return [(x0, y0) for y0 in ys for x0 in xs]


def crop_patch(array: np.ndarray, origin: Tuple[int, int], patch_size: int = 256,
               pad_value: Optional[float] = None) -> np.ndarray:
    """Cut the ``patch_size`` square at ``origin = (x0, y0)`` from an image or label map.

    Args:
        array: ``H x W`` or ``H x W x C`` array.
        origin: ``(x0, y0)`` of the patch, e.g. from :func:`patch_origins`.
        patch_size: Patch side.
        pad_value: ``None`` (default): a patch that passes the image border is
            returned clipped (smaller than ``patch_size``). A number: the patch
            is padded to ``patch_size`` with it (e.g. 0 for label maps).

    Returns:
        A copy of the patch.
    """
    x0, y0 = (int(v) for v in origin)
    height, width = array.shape[:2]
    if not (0 <= x0 < width and 0 <= y0 < height):
        raise ValueError(f'patch origin {origin} lies outside the {height}x{width} image')
    patch = array[y0:y0 + patch_size, x0:x0 + patch_size].copy()
    if pad_value is not None and patch.shape[:2] != (patch_size, patch_size):
        pad = [(0, patch_size - patch.shape[0]), (0, patch_size - patch.shape[1])]
        pad += [(0, 0)] * (array.ndim - 2)
        patch = np.pad(patch, pad, constant_values=pad_value)
    return patch
