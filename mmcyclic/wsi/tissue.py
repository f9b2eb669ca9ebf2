"""Where the tissue is: a low-resolution mask of a slide, and the fraction of it per tile.

Three sources, one :class:`TissueMask` (a boolean grid with its scale):

* :func:`detect_tissue`: a thumbnail at ``mask_mpp`` µm/px (8 by default) is
  read from the coarsest level fine enough (in bands, never a whole large
  level), turned grey, thresholded with Otsu's method (scikit-image), then
  cleaned with morphology whose sizes are in µm: specks under
  ``min_object_um2`` removed, holes (not touching the border) under
  ``fill_holes_um2`` filled, the
  edge grown by ``dilate_um``. Glass is bright: when the thumbnail holds no
  glass, Otsu would split the tissue itself, so the threshold is never
  taken below :data:`MIN_GLASS_GREY`.
* :func:`mask_from_image`: a user's mask picture (PNG/TIFF, any size covering
  the whole slide; non-zero = tissue).
* :func:`mask_from_annotations`: QuPath annotations of chosen classes
  (``--roi-class Tumor``), rasterised on the same grid.

:meth:`TissueMask.fraction` gives the tissue fraction of any level-0 window
from a summed-area table, so choosing the tiles of a slide costs microseconds each.
"""
import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage
from skimage import color, filters, morphology
from skimage.draw import polygon as draw_polygon

from mmcyclic.utils.progress import Progress

from .slide import Slide

DEFAULT_MASK_MPP = 8.0
# Grey level (0-1) below which a pixel is never glass: the floor of the Otsu threshold.
MIN_GLASS_GREY = 0.8
# A mask thumbnail is read in bands of this many thumbnail rows.
_BAND_ROWS = 64


@dataclass
class TissueMask:
    """A boolean tissue map of a slide.

    Attributes:
        mask: ``h x w`` bool; pixel ``(r, c)`` covers level-0 pixels
            ``[c d, (c + 1) d) x [r d, (r + 1) d)``.
        downsample: Level-0 pixels per mask pixel (``d``).
        source: ``'otsu'``, the mask file, or the annotation file and classes.
        threshold: The grey threshold used (``None`` unless detected).
    """

    mask: np.ndarray
    downsample: float
    source: str
    threshold: Optional[float] = None

    def __post_init__(self) -> None:
        padded = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), np.int64)
        padded[1:, 1:] = np.cumsum(np.cumsum(self.mask, axis=0), axis=1)
        self._table = padded

    def fraction(self, x0: float, y0: float, x1: float, y1: float) -> float:
        """Fraction of tissue in the level-0 window ``[x0, x1) x [y0, y1)`` (on the mask grid)."""
        d = self.downsample
        h, w = self.mask.shape
        c0, r0 = min(max(int(x0 // d), 0), w), min(max(int(y0 // d), 0), h)
        c1, r1 = min(max(int(math.ceil(x1 / d)), c0), w), min(max(int(math.ceil(y1 / d)), r0), h)
        if c1 <= c0 or r1 <= r0:
            return 0.0
        t = self._table
        inside = t[r1, c1] - t[r0, c1] - t[r1, c0] + t[r0, c0]
        return float(inside) / ((r1 - r0) * (c1 - c0))

    def area_mm2(self, mpp: Optional[float]) -> Optional[float]:
        """Tissue area in mm² for a level-0 ``mpp`` (``None`` if unknown)."""
        if not mpp:
            return None
        return float(np.count_nonzero(self.mask)) * (self.downsample * mpp / 1000.0) ** 2

    def to_png(self) -> np.ndarray:
        """The mask as a uint8 picture (255 = tissue)."""
        return self.mask.astype(np.uint8) * 255


def read_thumbnail(slide: Slide, downsample: float, progress: bool = False) -> np.ndarray:
    """The slide at ``downsample`` level-0 pixels per pixel, read band by band.

    The coarsest level not coarser than ``downsample`` is read in bands of
    rows, each reduced by area averaging, so memory stays at one band.
    """
    width, height = slide.dimensions
    out_w, out_h = max(1, int(width // downsample)), max(1, int(height // downsample))
    level = max((i for i, d in enumerate(slide.level_downsamples) if d <= downsample),
                key=lambda i: slide.level_downsamples[i], default=0)
    step = downsample / slide.level_downsamples[level]  # level px per thumbnail px
    out = np.empty((out_h, out_w, 3), np.uint8)
    bands = range(0, out_h, _BAND_ROWS)
    bar = Progress(len(bands), progress, desc=f'{slide.name} thumbnail', unit='band')
    cols = np.minimum((np.arange(out_w + 1) * step).astype(np.int64),
                      slide.level_dimensions[level][0])
    for r0 in bands:
        r1 = min(r0 + _BAND_ROWS, out_h)
        ly0, ly1 = int(r0 * step), max(int(r1 * step), int(r0 * step) + 1)
        band = slide.read(level, 0, ly0, int(cols[-1]) or 1, ly1 - ly0).astype(np.float32)
        rows = np.clip((np.arange(r0, r1 + 1) * step).astype(np.int64) - ly0, 0, ly1 - ly0)
        # Area means over each output pixel's level rectangle (reduceat sums the runs).
        row_sums = np.add.reduceat(band, rows[:-1], axis=0)
        sums = np.add.reduceat(row_sums, cols[:-1], axis=1)
        counts = (np.diff(rows)[:, None] * np.diff(cols)[None, :])[..., None]
        out[r0:r1] = np.round(sums / np.maximum(counts, 1)).astype(np.uint8)
        bar.update()
    bar.close()
    return out


def fill_small_holes(mask: np.ndarray, max_pixels: int) -> np.ndarray:
    """Fill background pieces of at most ``max_pixels`` that do not touch the border.

    (scikit-image's ``remove_small_holes`` also fills small glass areas at the
    slide's edge, which are not holes in the tissue.)
    """
    pieces, count = ndimage.label(~mask)
    if count == 0:
        return mask
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    border = np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]))
    small = sizes <= max_pixels
    small[0] = False
    small[border] = False
    return mask | small[pieces]


def detect_tissue(slide: Slide, mpp: Optional[float], mask_mpp: float = DEFAULT_MASK_MPP,
                  min_object_um2: float = 10000.0, fill_holes_um2: float = 100000.0,
                  dilate_um: float = 16.0, progress: bool = False) -> TissueMask:
    """Detect tissue on a thumbnail (module docstring).

    Args:
        slide: The open slide.
        mpp: Microns per level-0 pixel; ``None`` takes the mask at a downsample of 32.
        mask_mpp: Microns per mask pixel.
        min_object_um2: Tissue pieces smaller than this are removed.
        fill_holes_um2: Holes smaller than this are filled.
        dilate_um: The mask is grown by this much.
        progress: Show a bar while the thumbnail is read.
    """
    downsample = mask_mpp / mpp if mpp else 32.0
    downsample = max(downsample, 1.0)
    thumbnail = read_thumbnail(slide, downsample, progress)
    grey = color.rgb2gray(thumbnail)
    try:
        threshold = float(filters.threshold_otsu(grey))
    except ValueError:  # a uniform image
        threshold = MIN_GLASS_GREY
    threshold = max(threshold, MIN_GLASS_GREY)
    mask = grey < threshold
    um_per_px = downsample * mpp if mpp else mask_mpp  # without an mpp, sizes assume mask_mpp
    area_px = um_per_px ** 2
    mask = morphology.remove_small_objects(mask, max_size=max(1, int(min_object_um2 / area_px)))
    mask = fill_small_holes(mask, max(1, int(fill_holes_um2 / area_px)))
    radius = int(round(dilate_um / um_per_px))
    if radius > 0:
        mask = ndimage.binary_dilation(mask, structure=morphology.disk(radius).astype(bool))
    return TissueMask(mask, downsample, 'otsu', threshold)


def mask_from_image(mask_image: np.ndarray, slide_dimensions: Tuple[int, int],
                    source: str) -> TissueMask:
    """A user's mask picture covering the whole slide (non-zero = tissue).

    Raises:
        ValueError: its aspect ratio differs from the slide's by over 2 %.
    """
    mask = np.asarray(mask_image)
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    width, height = slide_dimensions
    dx, dy = width / mask.shape[1], height / mask.shape[0]
    if abs(dx / dy - 1) > 0.02:
        raise ValueError(f'{source}: a {mask.shape[1]} x {mask.shape[0]} mask does not cover the '
                         f'{width} x {height} slide with one scale (aspect ratios differ); '
                         'export the mask of the whole slide.')
    return TissueMask(mask > 0, 0.5 * (dx + dy), source)


def mask_from_annotations(polygons: Iterable[Sequence[np.ndarray]],
                          slide_dimensions: Tuple[int, int], downsample: float,
                          source: str) -> TissueMask:
    """Rasterise polygons (each ``[exterior, *holes]``, level-0 ``(x, y)`` rings).

    Pixels whose centre lies inside an exterior and outside its holes are tissue.
    """
    width, height = slide_dimensions
    shape = (max(1, int(math.ceil(height / downsample))),
             max(1, int(math.ceil(width / downsample))))
    mask = np.zeros(shape, bool)
    for rings in polygons:
        inside = np.zeros(shape, bool)
        for k, ring in enumerate(rings):
            ring = np.asarray(ring, float) / downsample - 0.5
            rr, cc = draw_polygon(ring[:, 1], ring[:, 0], shape)
            inside[rr, cc] = k == 0  # the exterior, then its holes
        mask |= inside
    return TissueMask(mask, float(downsample), source)
