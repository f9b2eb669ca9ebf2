"""Whole-slide images behind one small interface, read region by region.

:func:`open_slide` returns a :class:`Slide`:

* ``level_dimensions``: ``[(width, height), ...]`` per pyramid level, level 0
  the full resolution (OpenSlide's order: width first);
* ``level_downsamples``: level-0 pixels per level pixel (OpenSlide's
  definition: the mean of the width and height ratios);
* ``mpp``: an :class:`Mpp` (microns per level-0 pixel and *where it came from*),
  or ``None`` when the file says nothing;
* ``bounds``: ``(x, y, width, height)`` of the scanned area in level-0 pixels
  where the format records one (OpenSlide's ``openslide.bounds-*``), else ``None``;
* ``read(level, x, y, w, h)``: ``h x w x 3`` RGB uint8 pixels, ``(x, y)`` in
  *that level's* pixels; parts outside the level are white.

Backends
    ``tifffile`` (default for TIFF-based files: generic tiled pyramids with
    reduced-resolution IFDs, Aperio SVS, OME-TIFF with SubIFD pyramids,
    Hamamatsu NDPI, Leica SCN): every level is read TIFF tile by TIFF tile
    (:class:`~mmcyclic.apis.image_sources.TiffPageReader`); a level whose
    strips or tiles are too large to decode per region is refused, never read
    whole. ``openslide`` (the optional extra ``pip install mmcyclic[openslide]``):
    MRXS, Philips, Ventana, DICOM, CZI and the rest of OpenSlide's formats.
    ``auto`` takes tifffile for TIFF suffixes and OpenSlide otherwise (or when
    tifffile cannot read the file and OpenSlide is installed).

mpp sources (tifffile backend, in this order)
    Aperio ImageDescription ``MPP = ...``; OME ``PhysicalSizeX/Y`` (with
    ``PhysicalSizeXUnit``); TIFF ``XResolution``/``YResolution`` with
    ``ResolutionUnit`` CENTIMETER, INCH, MILLIMETER or MICROMETER (the tags
    NDPI and most scanners write). A resolution that gives under 0.05 or over
    100 µm per pixel (e.g. the 72 dpi default of image editors) is not taken
    as an mpp.
"""
import hashlib
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from mmcyclic.apis.image_sources import NotLazyError, TiffPageReader, open_tiff
from mmcyclic.datasets.io import ImageReadError

PathLike = Union[str, os.PathLike]
BACKENDS = ('auto', 'tifffile', 'openslide')
TIFF_SLIDE_SUFFIXES = ('.tif', '.tiff', '.svs', '.ndpi', '.scn', '.btf', '.qptiff')
# Plausible microns per pixel of a slide scan; outside this a resolution tag is a default.
MPP_RANGE = (0.05, 100.0)
_UM_PER_UNIT = {2: 25400.0, 3: 10000.0, 4: 1000.0, 5: 1.0}  # INCH, CENTIMETER, MM, µm
_RESUNIT_NAMES = {2: 'INCH', 3: 'CENTIMETER', 4: 'MILLIMETER', 5: 'MICROMETER'}
_OME_UNITS_UM = {'µm': 1.0, 'um': 1.0, 'micron': 1.0, 'nm': 1e-3, 'mm': 1e3, 'cm': 1e4,
                 'm': 1e6, 'Å': 1e-4}
OPENSLIDE_EXTRA = ('pip install "mmcyclic[openslide]" (openslide-python and openslide-bin)')


class SlideReadError(ImageReadError):
    """A slide cannot be opened or read; the message names the file and the fix."""


@dataclass(frozen=True)
class Mpp:
    """Microns per level-0 pixel and where the value came from.

    Attributes:
        x: Microns per pixel along x.
        y: Microns per pixel along y.
        source: E.g. ``'Aperio ImageDescription MPP'``, ``'OME PhysicalSizeX/Y'``,
            ``'TIFF resolution (CENTIMETER)'``, ``'openslide.mpp-x/y'``, ``'--slide-mpp'``.
    """

    x: float
    y: float
    source: str

    @property
    def mean(self) -> float:
        """The mean of ``x`` and ``y``."""
        return 0.5 * (self.x + self.y)


class Slide:
    """A whole-slide image (see the module docstring). Use :func:`open_slide`.

    Attributes:
        path: The file.
        backend: ``'tifffile'`` or ``'openslide'``.
        vendor: E.g. ``'aperio'``, ``'generic-tiff'``, ``'ome'``, ``'hamamatsu'``.
        level_dimensions: ``[(width, height), ...]``.
        level_downsamples: Level-0 pixels per level pixel.
        mpp: Microns per level-0 pixel, or ``None``.
        bounds: ``(x, y, w, h)`` of the scanned area in level-0 pixels, or ``None``.
        objective_power: The scan's objective magnification, or ``None``.
    """

    path: Path
    backend: str
    vendor: str
    level_dimensions: List[Tuple[int, int]]
    level_downsamples: List[float]
    mpp: Optional[Mpp]
    bounds: Optional[Tuple[int, int, int, int]]
    objective_power: Optional[float]

    @property
    def name(self) -> str:
        """The file name."""
        return self.path.name

    @property
    def dimensions(self) -> Tuple[int, int]:
        """``(width, height)`` of level 0."""
        return self.level_dimensions[0]

    @property
    def level_count(self) -> int:
        """The number of pyramid levels."""
        return len(self.level_dimensions)

    def read(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """RGB uint8 ``h x w x 3`` pixels of a region of ``level``; ``(x, y)`` in level pixels.

        Raises:
            SlideReadError: the data cannot be decoded (the file is damaged).
            ValueError: no such level, or a non-positive size.
        """
        if not 0 <= level < self.level_count:
            raise ValueError(f'{self.path}: no level {level} (the slide has {self.level_count})')
        if w < 1 or h < 1:
            raise ValueError(f'region size must be positive, got {w} x {h}')
        width, height = self.level_dimensions[level]
        cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if cx0 <= x and cy0 <= y and cx1 == x + w and cy1 == y + h:
            return self._read_inside(level, x, y, w, h)
        out = np.full((h, w, 3), 255, np.uint8)
        if cx0 < cx1 and cy0 < cy1:
            out[cy0 - y:cy1 - y, cx0 - x:cx1 - x] = self._read_inside(level, cx0, cy0,
                                                                      cx1 - cx0, cy1 - cy0)
        return out

    def _read_inside(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        raise NotImplementedError

    def quickhash(self) -> str:
        """A SHA-256 of the file's size, head, tail and level sizes (identifies a slide fast)."""
        digest = hashlib.sha256()
        size = self.path.stat().st_size
        digest.update(f'{size} {self.level_dimensions}'.encode())
        with open(self.path, 'rb') as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(size - (1 << 20), 0))
            digest.update(handle.read(1 << 20))
        return digest.hexdigest()

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> 'Slide':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        mpp = 'unknown' if self.mpp is None else f'{self.mpp.mean:.4g} ({self.mpp.source})'
        return (f'{type(self).__name__}({self.path.name}, {self.vendor}, levels '
                f'{self.level_dimensions}, mpp {mpp})')


def _downsamples(dimensions: List[Tuple[int, int]]) -> List[float]:
    w0, h0 = dimensions[0]
    return [0.5 * (w0 / w + h0 / h) for w, h in dimensions]


def _checked_mpp(x_um: float, y_um: float, source: str) -> Optional[Mpp]:
    if all(MPP_RANGE[0] <= v <= MPP_RANGE[1] for v in (x_um, y_um)):
        return Mpp(float(x_um), float(y_um), source)
    return None


def _rational(value) -> Optional[float]:
    if isinstance(value, tuple):
        return value[0] / value[1] if len(value) == 2 and value[1] else None
    return float(value) if value else None


def _resolution_mpp(page) -> Optional[Mpp]:
    """mpp from the TIFF resolution tags of ``page`` (module docstring)."""
    tags = page.tags
    if 'XResolution' not in tags or 'YResolution' not in tags:
        return None
    unit_tag = tags.get('ResolutionUnit')
    unit = int(unit_tag.value) if unit_tag is not None else 2  # TIFF default: INCH
    x_res, y_res = (_rational(tags[k].value) for k in ('XResolution', 'YResolution'))
    if unit not in _UM_PER_UNIT or not x_res or not y_res:
        return None
    scale = _UM_PER_UNIT[unit]
    return _checked_mpp(scale / x_res, scale / y_res, f'TIFF resolution ({_RESUNIT_NAMES[unit]})')


def _svs_mpp(description: str) -> Tuple[Optional[Mpp], Optional[float]]:
    """``(mpp, AppMag)`` from an Aperio ImageDescription (``|key = value|...``)."""
    fields = {}
    for item in description.split('|')[1:]:
        key, _, value = item.partition('=')
        fields[key.strip()] = value.strip()
    try:
        mpp = float(fields['MPP'])
    except (KeyError, ValueError):
        mpp = None
    try:
        power = float(fields['AppMag'])
    except (KeyError, ValueError):
        power = None
    found = None if mpp is None else _checked_mpp(mpp, mpp, 'Aperio ImageDescription MPP')
    return found, power


def _ome_mpp(xml: str) -> Optional[Mpp]:
    """mpp from the first OME ``Pixels`` element's ``PhysicalSizeX/Y``."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    pixels = next((e for e in root.iter() if e.tag.endswith('}Pixels') or e.tag == 'Pixels'),
                  None)
    if pixels is None or 'PhysicalSizeX' not in pixels.attrib:
        return None
    values = []
    for axis in ('X', 'Y'):
        size = float(pixels.attrib.get(f'PhysicalSize{axis}', pixels.attrib['PhysicalSizeX']))
        unit = pixels.attrib.get(f'PhysicalSize{axis}Unit', 'µm')
        if unit not in _OME_UNITS_UM:
            return None
        values.append(size * _OME_UNITS_UM[unit])
    return _checked_mpp(*values, 'OME PhysicalSizeX/Y')


class TifffileSlide(Slide):
    """A TIFF-based slide read with tifffile (module docstring).

    Raises:
        SlideReadError: tifffile cannot open it, it is truncated, or a level
            cannot be read region by region.
    """

    backend = 'tifffile'

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        try:
            self._tif = open_tiff(self.path)
        except NotLazyError as error:
            raise SlideReadError(f'{self.path}: {error}. If it is a slide format tifffile does '
                                 f'not know, try --backend openslide ({OPENSLIDE_EXTRA}).'
                                 ) from None
        try:
            self._init_levels()
        except BaseException:
            self._tif.close()
            raise

    def _init_levels(self) -> None:
        tif = self._tif
        if not tif.series:
            raise SlideReadError(f'{self.path}: no image in this TIFF')
        series = tif.series[0]
        levels = list(getattr(series, 'levels', None) or [series])
        self._readers: List[TiffPageReader] = []
        for index, level in enumerate(levels):
            page = level.pages[0] if len(level.pages) else None
            try:
                self._readers.append(TiffPageReader(tif, page, str(self.path)))
            except NotLazyError as error:
                raise SlideReadError(
                    f'{self.path}: level {index} cannot be read region by region ({error}); '
                    f'try --backend openslide ({OPENSLIDE_EXTRA}).') from None
            except ImageReadError as error:  # truncated
                raise SlideReadError(str(error)) from None
        self.level_dimensions = [(r.shape[1], r.shape[0]) for r in self._readers]
        self.level_downsamples = _downsamples(self.level_dimensions)
        first = tif.pages[0]
        self.bounds = None
        self.objective_power = None
        self.mpp = None
        if tif.is_svs:
            self.vendor = 'aperio'
            self.mpp, self.objective_power = _svs_mpp(first.description or '')
        elif tif.is_ome:
            self.vendor = 'ome'
            self.mpp = _ome_mpp(tif.ome_metadata or '')
        elif tif.is_ndpi:
            self.vendor = 'hamamatsu'
            magnification = first.tags.get(65421)  # NDPI Magnification
            self.objective_power = float(magnification.value) if magnification else None
        elif tif.is_scn:
            self.vendor = 'leica'
        elif getattr(tif, 'is_philips', False):
            self.vendor = 'philips'
        else:
            self.vendor = 'generic-tiff'
        if self.mpp is None:
            self.mpp = _resolution_mpp(levels[0].pages[0])

    def _read_inside(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        try:
            return self._readers[level].read((y, x, y + h, x + w))
        except ImageReadError as error:
            raise SlideReadError(str(error)) from None

    def close(self) -> None:
        """Close the file."""
        for reader in self._readers if hasattr(self, '_readers') else []:
            reader.release()
        self._tif.close()


class OpenSlideSlide(Slide):
    """A slide read with OpenSlide (the optional extra ``mmcyclic[openslide]``).

    Raises:
        SlideReadError: OpenSlide is not installed or cannot open the file.
    """

    backend = 'openslide'

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        openslide = import_openslide()
        try:
            self._slide = openslide.OpenSlide(str(self.path))
        except (openslide.OpenSlideError, OSError) as error:
            raise SlideReadError(f'{self.path}: OpenSlide cannot open it ({error})') from None
        props = self._slide.properties
        self.vendor = props.get('openslide.vendor', 'unknown')
        self.level_dimensions = [tuple(map(int, d)) for d in self._slide.level_dimensions]
        self.level_downsamples = [float(d) for d in self._slide.level_downsamples]
        try:
            self.mpp = _checked_mpp(float(props['openslide.mpp-x']),
                                    float(props['openslide.mpp-y']), 'openslide.mpp-x/y')
        except (KeyError, ValueError):
            self.mpp = None
        power = props.get('openslide.objective-power')
        self.objective_power = float(power) if power else None
        if 'openslide.bounds-x' in props:
            self.bounds = tuple(int(props.get(f'openslide.bounds-{k}', default))
                                for k, default in (('x', 0), ('y', 0),
                                                   ('width', self.level_dimensions[0][0]),
                                                   ('height', self.level_dimensions[0][1])))
        else:
            self.bounds = None

    def _read_inside(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        scale = self.level_downsamples[level]
        try:
            rgba = np.asarray(self._slide.read_region((int(round(x * scale)),
                                                       int(round(y * scale))), level, (w, h)))
        except Exception as error:  # noqa: BLE001 - OpenSlideError and codec errors
            raise SlideReadError(f'{self.path}: cannot read level {level} at ({x}, {y}) '
                                 f'({error}); the file may be damaged') from None
        # Transparent (unscanned) pixels are white, as on glass.
        alpha = rgba[..., 3:4].astype(np.uint16)
        rgb = (rgba[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
        return rgb.astype(np.uint8)

    def close(self) -> None:
        """Close the file."""
        self._slide.close()


def import_openslide():
    """``import openslide`` or raise :class:`SlideReadError` naming the extra to install."""
    try:
        import openslide
    except (ImportError, OSError) as error:
        raise SlideReadError(f'OpenSlide is not available ({error}); install it with '
                             f'{OPENSLIDE_EXTRA}, or use --backend tifffile for TIFF slides.'
                             ) from None
    return openslide


def openslide_available() -> bool:
    """Whether the optional OpenSlide backend can be imported."""
    try:
        import_openslide()
    except SlideReadError:
        return False
    return True


def open_slide(path: PathLike, backend: str = 'auto') -> Slide:
    """Open a whole-slide image.

    Args:
        path: The slide file.
        backend: ``'auto'``, ``'tifffile'`` or ``'openslide'`` (module docstring).

    Raises:
        SlideReadError: missing file, unreadable file, or the backend is not installed.
        ValueError: an unknown backend.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    path = Path(path)
    if not path.is_file():
        raise SlideReadError(f'{path}: no such file')
    if backend == 'openslide':
        return OpenSlideSlide(path)
    if backend == 'tifffile':
        return TifffileSlide(path)
    if path.suffix.lower() in TIFF_SLIDE_SUFFIXES:
        try:
            return TifffileSlide(path)
        except SlideReadError:
            if not openslide_available():
                raise
    if openslide_available():
        return OpenSlideSlide(path)
    raise SlideReadError(f'{path}: not a TIFF-based slide; reading it needs OpenSlide: '
                         f'{OPENSLIDE_EXTRA}')
