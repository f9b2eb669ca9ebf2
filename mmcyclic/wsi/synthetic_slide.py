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
    _ellipses: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        children = np.random.SeedSequence(self.seed).spawn(self.distinct + 1)
        tiles = [synthetic_he_tile(np.random.default_rng(child), self.block,
                                   with_nuclei=k not in self.empty_blocks)
                 for k, child in enumerate(children[:-1])]
        self._images = np.stack([t[0] for t in tiles])
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
        """Whether level-0 points ``(ys, xs)`` (broadcast) lie in tissue."""
        if self.tissue_fraction >= 1:
            return np.ones(np.broadcast(ys, xs).shape, bool)
        inside = np.zeros(np.broadcast(ys, xs).shape, bool)
        for cy, cx, ry, rx in self._ellipses:
            inside |= ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
        return inside

    def region(self, y0: int, x0: int, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
        """Level-0 ``(RGB uint8, int64 nucleus ids)`` of a region (0 = no nucleus).

        Ids are unique over the slide: ``(block row, block column, id in the tile)``
        packed into one integer.
        """
        ys = np.arange(y0, y0 + h)[:, None]
        xs = np.arange(x0, x0 + w)[None, :]
        by, bx = ys // self.block, xs // self.block
        which = (by * 7 + bx) % self.distinct
        ry, rx = ys % self.block, xs % self.block
        rgb = self._images[which, ry, rx]
        ids = self._labels[which, ry, rx]
        block_index = by * (self.width // self.block + 1) + bx
        ids = np.where(ids > 0, block_index * 100000 + ids, 0)
        inside = self.tissue(ys + 0.5, xs + 0.5)
        rgb = np.where(inside[..., None], rgb, np.array(GLASS_RGB, np.uint8))
        return rgb.astype(np.uint8), np.where(inside, ids, 0)

    def level_region(self, downsample: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
        """RGB of a region of the level with ``downsample`` (block means of level 0)."""
        rgb, _ = self.region(y0 * downsample, x0 * downsample, h * downsample, w * downsample)
        if downsample == 1:
            return rgb
        shaped = rgb.reshape(h, downsample, w, downsample, 3).astype(np.float32)
        return np.round(shaped.mean(axis=(1, 3))).astype(np.uint8)

    def level_shapes(self, min_side: int = 256) -> List[Tuple[int, int, int]]:
        """``(downsample, height, width)`` of the pyramid levels, halving to ``min_side``."""
        levels, d = [], 1
        while True:
            levels.append((d, self.height // d, self.width // d))
            if min(self.height, self.width) // (2 * d) < min_side:
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
