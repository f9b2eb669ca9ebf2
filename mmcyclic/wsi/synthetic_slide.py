"""Small synthetic whole-slide pyramids with known nuclei and tissue (tests, benchmarks, demo).

The slide is a mosaic of ``block x block`` synthetic H&E tiles
(:func:`mmcyclic.datasets.synthetic.synthetic_he_tile`): ``distinct`` tiles
are drawn once and repeated (block ``(i, j)`` shows tile ``(i * 7 + j) %
distinct``), so any slide size costs the same to generate and every pixel's
nucleus id is known. Tiles listed in ``empty_blocks`` are drawn without
nuclei (regions that "contain none"). Tissue is a union of ellipses;
outside it the slide is glass (light grey) and has no nuclei.

:func:`write_synthetic_slide` writes it as a TIFF pyramid in one of three
layouts that real scanners and converters produce, streaming TIFF tiles so
memory stays small at any size:

* ``generic``: tiled BigTIFF, one IFD per level, levels after the first
  marked ``subfiletype=1`` (reduced image), resolution tags in CENTIMETER;
* ``svs``: Aperio-like: ImageDescription ``Aperio ... |MPP = ...``, IFD 1 a
  stripped thumbnail, pyramid levels from IFD 2 on (what tifffile and OpenSlide
  detect as Aperio);
* ``ome``: OME-TIFF, the levels as SubIFDs of the first IFD, ``PhysicalSizeX/Y``.

``mpp=None`` writes no resolution at all (a slide without mpp).
"""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmcyclic.datasets.synthetic import synthetic_he_tile

PathLike = Union[str, os.PathLike]
KINDS = ('generic', 'svs', 'ome')
GLASS_RGB = (236, 236, 232)
TIFF_TILE = 256
# Tissue is decided per square cell of this many level-0 pixels (pyramid levels stay exact).
TISSUE_CELL = 64


@dataclass
class SyntheticSlide:
    """A synthetic slide in memory (small parts only; pixels are computed per region).

    Args:
        height: Level-0 height.
        width: Level-0 width.
        block: Side of one synthetic tile.
        distinct: How many different tiles are drawn.
        seed: Seed of the tiles and of the tissue ellipses.
        tissue_fraction: Approximate fraction of the slide covered by tissue
            (1.0: no glass at all).
        empty_blocks: Indices (in ``range(distinct)``) of tiles drawn without nuclei.
    """

    height: int
    width: int
    block: int = 512
    distinct: int = 4
    seed: int = 0
    tissue_fraction: float = 0.3
    empty_blocks: Sequence[int] = ()
    _images: np.ndarray = field(init=False, repr=False)
    _labels: np.ndarray = field(init=False, repr=False)
    _levels: dict = field(init=False, repr=False)
    _ellipses: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        children = np.random.SeedSequence(self.seed).spawn(self.distinct + 1)
        tiles = [synthetic_he_tile(np.random.default_rng(child), self.block,
                                   with_nuclei=k not in self.empty_blocks)
                 for k, child in enumerate(children[:-1])]
        self._images = np.stack([t[0] for t in tiles])
        self._levels = {1: self._images}
        self._labels = np.stack([t[1] for t in tiles]).astype(np.int64)
        self._ellipses = self._draw_ellipses(np.random.default_rng(children[-1]))

    def _draw_ellipses(self, rng: np.random.Generator) -> np.ndarray:
        """``(cy, cx, ry, rx)`` rows whose union covers about ``tissue_fraction``."""
        if self.tissue_fraction >= 1:
            return np.zeros((0, 4))
        count = 3
        # Three disjoint-ish ellipses, each a third of the target area.
        area = self.tissue_fraction * self.height * self.width / count
        rows = []
        for k in range(count):
            aspect = rng.uniform(0.7, 1.4)
            ry = np.sqrt(area / np.pi * aspect)
            rx = area / np.pi / ry
            cy = self.height * (k + 0.5) / count
            cx = self.width * rng.uniform(0.35, 0.65)
            rows.append((cy, cx, min(ry, self.height / count / 2 * 0.98), rx))
        return np.array(rows)

    def tissue(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Whether level-0 points ``(ys, xs)`` (broadcast) lie in tissue.

        Tissue is decided per cell of :data:`TISSUE_CELL` level-0 pixels (the
        cell's centre inside an ellipse), so every pyramid level down to that
        downsample is an exact block mean of level 0.
        """
        shape = np.broadcast(ys, xs).shape
        if self.tissue_fraction >= 1:
            return np.ones(shape, bool)
        cy = (np.floor(np.asarray(ys, float) / TISSUE_CELL) + 0.5) * TISSUE_CELL
        cx = (np.floor(np.asarray(xs, float) / TISSUE_CELL) + 0.5) * TISSUE_CELL
        inside = np.zeros(shape, bool)
        for ey, ex, ry, rx in self._ellipses:
            inside |= ((cy - ey) / ry) ** 2 + ((cx - ex) / rx) ** 2 <= 1
        return inside

    def region(self, y0: int, x0: int, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
        """Level-0 ``(RGB uint8, int64 nucleus ids)`` of a region (0 = no nucleus).

        Ids are unique over the slide: ``(block row, block column, id in the tile)``
        packed into one integer.
        """
        rgb = self.level_region(1, y0, x0, h, w)
        ys = np.arange(y0, y0 + h)[:, None]
        xs = np.arange(x0, x0 + w)[None, :]
        by, bx = ys // self.block, xs // self.block
        ids = self._labels[(by * 7 + bx) % self.distinct, ys % self.block, xs % self.block]
        block_index = by * (self.width // self.block + 1) + bx
        ids = np.where(ids > 0, block_index * 100000 + ids, 0)
        return rgb, np.where(self.tissue(ys, xs), ids, 0)

    def _tiles_at(self, downsample: int) -> np.ndarray:
        """The distinct tiles block-mean downsampled (cached per downsample)."""
        if downsample not in self._levels:
            n, b = len(self._images), self.block // downsample
            blocks = self._images.reshape(n, b, downsample, b, downsample, 3).astype(np.float32)
            self._levels[downsample] = np.round(blocks.mean(axis=(2, 4))).astype(np.uint8)
        return self._levels[downsample]

    def level_region(self, downsample: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
        """RGB of a region of the level with ``downsample`` (exact block means of level 0).

        Raises:
            ValueError: ``downsample`` does not divide the block and the tissue cell.
        """
        if self.block % downsample or TISSUE_CELL % downsample:
            raise ValueError(f'downsample {downsample} must divide {self.block} and {TISSUE_CELL}')
        b = self.block // downsample
        ys = np.arange(y0, y0 + h)[:, None]
        xs = np.arange(x0, x0 + w)[None, :]
        rgb = self._tiles_at(downsample)[(ys // b * 7 + xs // b) % self.distinct, ys % b, xs % b]
        inside = self.tissue(ys * downsample, xs * downsample)
        return np.where(inside[..., None], rgb, np.array(GLASS_RGB, np.uint8))

    def block_regions(self) -> List[Tuple[Tuple[int, int, int, int], bool]]:
        """``((x, y, w, h), has_nuclei)`` of every block lying wholly in tissue (level 0)."""
        out = []
        for by in range(self.height // self.block):
            for bx in range(self.width // self.block):
                y0, x0, b = by * self.block, bx * self.block, self.block
                ys = np.array([y0, y0, y0 + b, y0 + b, y0 + b / 2], float)
                xs = np.array([x0, x0 + b, x0, x0 + b, x0 + b / 2], float)
                if self.tissue(ys, xs).all():
                    which = (by * 7 + bx) % self.distinct
                    out.append(((x0, y0, b, b), which not in self.empty_blocks))
        return out

    def level_shapes(self, min_side: int = 256) -> List[Tuple[int, int, int]]:
        """``(downsample, height, width)`` of the pyramid levels, halving to ``min_side``
        (and to the block and tissue-cell sizes at most)."""
        levels, d = [], 1
        while True:
            levels.append((d, self.height // d, self.width // d))
            if (min(self.height, self.width) // (2 * d) < min_side
                    or self.block % (2 * d) or TISSUE_CELL % (2 * d)):
                return levels
            d *= 2


def _tiles(slide: SyntheticSlide, downsample: int, height: int,
           width: int) -> Iterator[np.ndarray]:
    """The TIFF tiles of one level, row by row (edge tiles padded to the full tile)."""
    for ty in range(0, height, TIFF_TILE):
        for tx in range(0, width, TIFF_TILE):
            h, w = min(TIFF_TILE, height - ty), min(TIFF_TILE, width - tx)
            tile = np.full((TIFF_TILE, TIFF_TILE, 3), 255, np.uint8)
            tile[:h, :w] = slide.level_region(downsample, ty, tx, h, w)
            yield tile


def write_synthetic_slide(path: PathLike, slide: SyntheticSlide, kind: str = 'generic',
                          mpp: Optional[float] = 0.25, compression: str = 'jpeg',
                          min_level_side: int = 256) -> Path:
    """Write ``slide`` as a TIFF pyramid (module docstring) and return the path.

    Args:
        path: Output file (``.tif``, ``.svs``, ``.ome.tif``).
        slide: What to draw.
        kind: ``generic``, ``svs`` or ``ome``.
        mpp: µm per level-0 pixel, or ``None`` for no resolution metadata.
        compression: TIFF compression of the tiles (``jpeg``, ``zlib``, ``None``).
        min_level_side: The pyramid stops before a level's short side drops under this.

    Raises:
        ValueError: an unknown kind, or ``svs``/``ome`` without an mpp.
    """
    import tifffile
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    if kind != 'generic' and mpp is None:
        raise ValueError(f'a {kind} slide records its mpp; use kind="generic" for a slide without')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    levels = slide.level_shapes(min_level_side)
    common = dict(tile=(TIFF_TILE, TIFF_TILE), compression=compression, photometric='rgb',
                  dtype=np.uint8)

    def data(level):
        d, h, w = level
        return dict(data=_tiles(slide, d, h, w), shape=(h, w, 3))

    def resolution(d):
        if mpp is None:
            return {}
        return dict(resolution=(1e4 / (mpp * d), 1e4 / (mpp * d)), resolutionunit='CENTIMETER')

    with tifffile.TiffWriter(path, bigtiff=kind != 'svs') as writer:
        if kind == 'generic':
            for i, level in enumerate(levels):
                writer.write(**data(level), **common, **resolution(level[0]),
                             subfiletype=0 if i == 0 else 1, metadata=None)
        elif kind == 'svs':
            _, h0, w0 = levels[0]
            head = (f'Aperio Image Library v12.0.0\r\n{w0}x{h0} [0,0 {w0}x{h0}] '
                    f'({TIFF_TILE}x{TIFF_TILE}) JPEG Q=80')
            writer.write(**data(levels[0]), **common, metadata=None,
                         description=f'{head}|AppMag = {10 / mpp:g}|MPP = {mpp}')
            thumb = levels[-1]
            writer.write(slide.level_region(thumb[0], 0, 0, thumb[1], thumb[2]), photometric='rgb',
                         compression=compression, rowsperstrip=16, metadata=None,
                         description='Aperio Image Library v12.0.0\r\nthumbnail')
            for level in levels[1:]:
                writer.write(**data(level), **common, metadata=None, description=head)
        else:
            writer.write(**data(levels[0]), **common, **resolution(1), subifds=len(levels) - 1,
                         metadata={'axes': 'YXS', 'PhysicalSizeX': mpp, 'PhysicalSizeXUnit': 'µm',
                                   'PhysicalSizeY': mpp, 'PhysicalSizeYUnit': 'µm'})
            for level in levels[1:]:
                writer.write(**data(level), **common, subfiletype=1)
    return path
