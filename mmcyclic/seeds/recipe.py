"""From a relevance map to pseudo-mask seeds (paper §III-A, Fig. 2).

Steps, each a field of :class:`SeedRecipeConfig`:

1. **Normalise** (``normalisation``): keep the positive part of ``R`` (evidence
   *for* the explained class) and divide it by a scale: ``'max'`` uses the
   maximum, ``'percentile'`` (default) the ``percentile``-th percentile of the
   positive values, which is robust to the few extreme pixels LRP produces
   at sharp edges; ``'minmax'`` first subtracts the map's minimum (for
   attention rollout, positive everywhere) and then scales as
   ``'percentile'``. The result is clipped to ``[0, 1]``. An optional Gaussian
   smoothing (``smooth_sigma`` px, 0 = off) is applied to ``R`` first: LRP
   puts relevance on nucleus edges and chromatin texture, and smoothing
   joins the speckles of one nucleus before the threshold.
2. **Threshold** ``theta`` (``threshold``, paper: 0.35).
3. **Connected components** (``scipy.ndimage.label``, 4- or 8-connected).
4. **Convex hull** of each component (``skimage.morphology.convex_hull_image``
   on the component's bounding-box crop).
5. **Dilation then erosion** (a closing with a disk of ``closing_radius``)
   of each component on its own padded crop, so neighbouring seeds never
   merge; where two completed seeds overlap, the earlier one keeps the pixel.
6. **Area filter**: completed seeds outside ``[min_area, max_area]`` are dropped.
7. **At most K** (``max_seeds``, paper: 20) seeds are kept, chosen uniformly at
   random with a numpy ``Generator`` seeded by ``(seed, key)``, so the same seed
   and image give the same seeds (``selection='random'``, the paper's rule), or
   the K with the highest score (``selection='score'``).

Each seed's score is the mean normalised relevance of its thresholded pixels.
"""
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Union

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image, disk

NORMALISATIONS = ('percentile', 'max', 'minmax')
SELECTIONS = ('random', 'score')


@dataclass
class SeedRecipeConfig:
    """Parameters of :class:`SeedRecipe` (see the module docstring)."""

    threshold: float = 0.35
    normalisation: str = 'percentile'
    percentile: float = 99.0
    smooth_sigma: float = 0.0
    connectivity: int = 1
    convex_hull: bool = True
    closing_radius: int = 2
    min_area: int = 30
    max_area: int = 2000
    max_seeds: int = 20
    selection: str = 'random'
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f'threshold must be in [0, 1), got {self.threshold}')
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f'normalisation must be one of {NORMALISATIONS}, '
                             f'got {self.normalisation!r}')
        if not 0.0 < self.percentile <= 100.0:
            raise ValueError(f'percentile must be in (0, 100], got {self.percentile}')
        if self.selection not in SELECTIONS:
            raise ValueError(f'selection must be one of {SELECTIONS}, got {self.selection!r}')
        if self.connectivity not in (1, 2):
            raise ValueError(f'connectivity must be 1 (4-connected) or 2 (8-connected), '
                             f'got {self.connectivity}')
        if self.min_area > self.max_area:
            raise ValueError(f'min_area {self.min_area} > max_area {self.max_area}')
        if self.max_seeds < 0 or self.closing_radius < 0 or self.smooth_sigma < 0:
            raise ValueError('max_seeds, closing_radius and smooth_sigma must be >= 0')

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (written into the seed set's ``info``)."""
        return asdict(self)


@dataclass
class SeedResult:
    """Seeds of one image.

    Attributes:
        label_map: ``H x W`` int32, seeds numbered ``1..k``, 0 = background.
        scores: Score of seed ``i + 1`` (mean normalised relevance).
        num_components: Components above the threshold.
        num_in_area: Completed seeds that passed the area filter.
    """

    label_map: np.ndarray
    scores: List[float] = field(default_factory=list)
    num_components: int = 0
    num_in_area: int = 0

    @property
    def num_seeds(self) -> int:
        return len(self.scores)


def _rng(seed: int, key: Union[int, str]) -> np.random.Generator:
    """Generator that depends only on ``(seed, key)`` (crc32 of a str key: stable across runs)."""
    key_int = zlib.crc32(key.encode()) if isinstance(key, str) else int(key)
    return np.random.default_rng(np.random.SeedSequence([int(seed), key_int]))


class SeedRecipe:
    """Turn a relevance map into at most K instance seeds.

    Args:
        config: A :class:`SeedRecipeConfig`, a dict of its fields, or None
            for the defaults; keyword arguments override single fields.
    """

    def __init__(self, config: Union[SeedRecipeConfig, Dict[str, Any], None] = None,
                 **overrides: Any) -> None:
        if isinstance(config, SeedRecipeConfig):
            config = config.to_dict()
        self.config = SeedRecipeConfig(**{**dict(config or {}), **overrides})

    def normalise(self, relevance: np.ndarray) -> np.ndarray:
        """Positive part of (optionally smoothed) ``relevance`` scaled to ``[0, 1]``."""
        cfg = self.config
        relevance = np.asarray(relevance, dtype=np.float64)
        if relevance.ndim != 2:
            raise ValueError(f'a relevance map must be 2-D, got shape {relevance.shape}')
        if cfg.smooth_sigma > 0:
            relevance = ndimage.gaussian_filter(relevance, cfg.smooth_sigma)
        relevance = np.nan_to_num(relevance, nan=0.0)
        if cfg.normalisation == 'minmax':
            # Attention rollout is positive everywhere: evidence is the excess over the
            # map's own floor, not the value itself.
            relevance = relevance - relevance.min()
        positive = np.clip(relevance, 0, None)
        values = positive[positive > 0]
        if values.size == 0:
            return np.zeros_like(positive)
        if cfg.normalisation == 'max':
            scale = values.max()
        else:
            scale = np.percentile(values, cfg.percentile)
        return np.clip(positive / scale, 0, 1) if scale > 0 else np.zeros_like(positive)

    def _complete(self, component: np.ndarray) -> np.ndarray:
        """Convex hull then closing of one component's crop (padded so nothing is clipped)."""
        pad = self.config.closing_radius + 1
        crop = np.pad(component, pad)
        if self.config.convex_hull and crop.any():
            crop = convex_hull_image(crop)
        if self.config.closing_radius:
            footprint = disk(self.config.closing_radius)
            crop = ndimage.binary_erosion(ndimage.binary_dilation(crop, footprint), footprint)
        return crop

    def __call__(self, relevance: np.ndarray, key: Union[int, str] = 0,
                 rng: Optional[np.random.Generator] = None) -> SeedResult:
        """Seeds of one relevance map.

        Args:
            relevance: ``H x W`` relevance (any scale; only its positive part counts).
            key: Image key mixed into the random choice of seeds (e.g. the
                image id), so each image gets its own reproducible draw.
            rng: Use this generator instead of ``(config.seed, key)``.

        Returns:
            A :class:`SeedResult`.
        """
        cfg = self.config
        norm = self.normalise(relevance)
        height, width = norm.shape
        structure = ndimage.generate_binary_structure(2, cfg.connectivity)
        components, count = ndimage.label(norm > cfg.threshold, structure=structure)
        pad = cfg.closing_radius + 1
        candidates = []
        for index, slices in enumerate(ndimage.find_objects(components), start=1):
            if slices is None:
                continue
            # A completed seed lies inside its component's bounding box (the hull
            # does, and closing with a disk is increasing and leaves a rectangle
            # unchanged), so a box smaller than min_area cannot pass the filter.
            if ((slices[0].stop - slices[0].start) * (slices[1].stop - slices[1].start)
                    < cfg.min_area):
                continue
            mask = components[slices] == index
            completed = self._complete(mask)
            y0, x0 = slices[0].start - pad, slices[1].start - pad
            # Clip the padded crop to the image.
            cy0, cx0 = max(0, -y0), max(0, -x0)
            cy1 = completed.shape[0] - max(0, y0 + completed.shape[0] - height)
            cx1 = completed.shape[1] - max(0, x0 + completed.shape[1] - width)
            completed = completed[cy0:cy1, cx0:cx1]
            area = int(completed.sum())
            if cfg.min_area <= area <= cfg.max_area:
                candidates.append((max(0, y0), max(0, x0), completed,
                                   float(norm[slices][mask].mean())))
        if cfg.selection == 'score':  # stable: ties keep the component order
            keep = sorted(range(len(candidates)), key=lambda i: -candidates[i][3])[:cfg.max_seeds]
        else:
            rng = rng if rng is not None else _rng(cfg.seed, key)
            keep = rng.permutation(len(candidates))[:cfg.max_seeds] if candidates else []
        label_map = np.zeros((height, width), dtype=np.int32)
        scores = []
        for y0, x0, completed, score in (candidates[i] for i in sorted(keep)):
            window = label_map[y0:y0 + completed.shape[0], x0:x0 + completed.shape[1]]
            free = completed & (window == 0)
            if free.any():
                scores.append(score)
                window[free] = len(scores)
        return SeedResult(label_map, scores, num_components=count, num_in_area=len(candidates))
