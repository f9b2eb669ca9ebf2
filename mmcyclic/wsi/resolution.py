"""Which pyramid level to read, and how to resample it, for a model trained at an mpp.

Policy (:func:`plan_resolution`)
    The model's mpp comes from its config (``inference.mpp``) or ``--model-mpp``;
    the slide's from its metadata or ``--slide-mpp``. Of the levels whose mpp
    is at most ``model_mpp * (1 + tolerance)``, the coarsest is read:

    * within ``tolerance`` of the model mpp (default ±10 %: a 0.263 µm/px
      scanner for a 0.25 model): read as is;
    * finer: downsampled to the model mpp (exactly by block means when the
      ratio is an integer, e.g. 0.125 → 0.25; otherwise by Gaussian
      pre-filtering and bilinear sampling on one slide-wide grid);
    * no level that fine (the slide is coarser than the model): refused unless
      ``allow_upsample``, then level 0 is upsampled (bilinear).
    * no slide mpp at all: refused, naming ``--slide-mpp``.

Model grid
    Tiles are cut on a grid of model pixels anchored at the slide's level-0
    origin: model pixel ``(r, c)`` covers level-0 pixels
    ``[c f, (c + 1) f) x [r f, (r + 1) f)`` with ``f = level0_per_model``.
    :class:`ModelGridReader` reads windows of that grid; the same model pixel
    gets the same value whichever tile reads it, as the stitch rule needs.
"""
import math
from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import numpy as np
from scipy import ndimage

from mmcyclic.evaluation.stitching import Window

from .slide import Mpp, Slide

DEFAULT_TOLERANCE = 0.10
# A resampling ratio this close to an integer is treated as that integer.
_INTEGER_SLACK = 1e-3


class ResolutionError(ValueError):
    """The slide's mpp is missing or does not fit the model; the message names the flag."""


@dataclass(frozen=True)
class ResolutionPlan:
    """How a slide is read at the model's mpp.

    Attributes:
        level: The pyramid level read.
        slide_mpp: Microns per level-0 pixel.
        mpp_source: Where ``slide_mpp`` came from.
        level_mpp: Microns per pixel of ``level``.
        model_mpp: Microns per pixel the model expects.
        resample: Level pixels per model pixel (1: read as is; > 1 downsample; < 1 upsample).
        level0_per_model: Level-0 pixels per model pixel.
        decision: One line for people: what was read and why.
    """

    level: int
    slide_mpp: float
    mpp_source: str
    level_mpp: float
    model_mpp: float
    resample: float
    level0_per_model: float
    decision: str

    def as_dict(self) -> dict:
        """The plan as a JSON-ready dict."""
        return asdict(self)


def plan_resolution(slide: Slide, model_mpp: float, slide_mpp: Optional[float] = None,
                    tolerance: float = DEFAULT_TOLERANCE,
                    allow_upsample: bool = False) -> ResolutionPlan:
    """Choose the level and resampling for ``slide`` (module docstring, *Policy*).

    Args:
        slide: The open slide.
        model_mpp: Microns per pixel of the model's training images.
        slide_mpp: Overrides (or supplies) the slide's level-0 mpp.
        tolerance: Relative mpp difference read as is.
        allow_upsample: Accept a slide coarser than the model.

    Raises:
        ResolutionError: no mpp (names ``--slide-mpp``), or the slide is
            coarser than the model without ``allow_upsample`` (names ``--allow-upsample``).
    """
    if model_mpp <= 0:
        raise ResolutionError(f'the model mpp must be positive, got {model_mpp}')
    if not 0 <= tolerance < 1:
        raise ResolutionError(f'--mpp-tolerance must be in [0, 1), got {tolerance}')
    mpp = Mpp(slide_mpp, slide_mpp, '--slide-mpp') if slide_mpp else slide.mpp
    if mpp is None:
        raise ResolutionError(
            f'{slide.path}: the file records no microns per pixel (mpp), so the scale the model '
            f'needs ({model_mpp} µm/px) is unknown. Pass --slide-mpp (µm per level-0 pixel, '
            'e.g. 0.25 for a 40x scan, 0.5 for 20x) or a slide_mpp column in a CSV manifest.')
    base = mpp.mean
    level_mpps = [base * d for d in slide.level_downsamples]
    fine_enough = [i for i, m in enumerate(level_mpps) if m <= model_mpp * (1 + tolerance)]
    if not fine_enough:
        if not allow_upsample:
            raise ResolutionError(
                f'{slide.path}: the slide ({base:.4g} µm/px, {mpp.source}) is coarser than the '
                f'model ({model_mpp} µm/px) beyond the tolerance of {tolerance:.0%}; nuclei would '
                'look smaller than in training. Use a model trained at this resolution, or pass '
                '--allow-upsample to enlarge the slide (results may suffer).')
        level, resample = 0, model_mpp / base
        decision = f'level 0 upsampled x{1 / resample:.3g} ({base:.4g} -> {model_mpp} µm/px)'
    else:
        level = max(fine_enough, key=lambda i: level_mpps[i])
        ratio = model_mpp / level_mpps[level]
        if abs(ratio - 1) <= tolerance:
            resample = 1.0
            decision = (f'level {level} read as is ({level_mpps[level]:.4g} µm/px within '
                        f'{tolerance:.0%} of {model_mpp})')
        else:
            resample = float(round(ratio)) if abs(ratio - round(ratio)) < _INTEGER_SLACK else ratio
            decision = (f'level {level} downsampled x{resample:.4g} ({level_mpps[level]:.4g} -> '
                        f'{model_mpp} µm/px)')
    return ResolutionPlan(level, base, mpp.source, level_mpps[level], float(model_mpp), resample,
                          slide.level_downsamples[level] * resample, decision)


class ModelGridReader:
    """Windows of the model grid of a slide (module docstring, *Model grid*).

    Args:
        slide: The open slide.
        plan: From :func:`plan_resolution`.

    Attributes:
        shape: ``(H, W)`` of the whole slide in model pixels.
    """

    lazy = True

    def __init__(self, slide: Slide, plan: ResolutionPlan) -> None:
        self.slide = slide
        self.plan = plan
        self.name = str(slide.path)
        width, height = slide.dimensions
        self.shape: Tuple[int, int] = (int(height // plan.level0_per_model),
                                       int(width // plan.level0_per_model))

    def read(self, window: Window) -> np.ndarray:
        """RGB uint8 pixels of ``window = (y0, x0, y1, x1)`` in model pixels."""
        y0, x0, y1, x1 = window
        level, step = self.plan.level, self.plan.resample
        if step == 1.0:
            return self.slide.read(level, x0, y0, x1 - x0, y1 - y0)
        if step == int(step):
            k = int(step)
            block = self.slide.read(level, x0 * k, y0 * k, (x1 - x0) * k, (y1 - y0) * k)
            shaped = block.reshape(y1 - y0, k, x1 - x0, k, 3).astype(np.float32)
            return np.round(shaped.mean(axis=(1, 3))).astype(np.uint8)
        return self._read_resampled(window)

    def _read_resampled(self, window: Window) -> np.ndarray:
        """Non-integer ratio: Gaussian pre-filter (downsampling), bilinear sampling at
        slide-wide positions, from a level region with a margin wide enough that
        every tile computes a model pixel alike."""
        y0, x0, y1, x1 = window
        step = self.plan.resample
        sigma = max(0.0, (step - 1) / 2)
        margin = int(math.ceil(4 * sigma)) + 2
        ly0, lx0 = int(math.floor(y0 * step)) - margin, int(math.floor(x0 * step)) - margin
        ly1, lx1 = int(math.ceil(y1 * step)) + margin, int(math.ceil(x1 * step)) + margin
        region = self.slide.read(self.plan.level, lx0, ly0, lx1 - lx0, ly1 - ly0).astype(np.float32)
        if sigma > 0:
            region = ndimage.gaussian_filter(region, (sigma, sigma, 0))
        rows = (np.arange(y0, y1) + 0.5) * step - 0.5 - ly0
        cols = (np.arange(x0, x1) + 0.5) * step - 0.5 - lx0
        grid = np.meshgrid(rows, cols, indexing='ij')
        out = np.stack([ndimage.map_coordinates(region[..., c], grid, order=1, mode='nearest')
                        for c in range(3)], axis=-1)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    def close(self) -> None:
        """The slide is closed by its owner."""

    def __enter__(self) -> 'ModelGridReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
