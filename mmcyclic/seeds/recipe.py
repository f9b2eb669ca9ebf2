"""From a relevance map to pseudo-mask seeds (paper §III-A, Fig. 2).

Steps, each a field of :class:`SeedRecipeConfig`, in this order:

1. **Normalise** (``normalisation``): keep the positive part of ``R`` (evidence
   *for* the explained class) and divide it by a scale: ``'max'`` uses the
   maximum, ``'percentile'`` the ``percentile``-th percentile of the positive
   values (robust to the few extreme pixels LRP produces at sharp edges);
   ``'minmax'`` first subtracts the map's minimum (for attention rollout,
   positive everywhere) and then scales as ``'percentile'``. Clipped to
   ``[0, 1]``. An optional Gaussian smoothing of ``R`` (``smooth_sigma`` px,
   0 = off) comes first.
2. **Threshold** ``theta`` (``threshold``, paper: 0.35): Fig. 2 (c).
3. **Join fragments** on the whole thresholded map (Fig. 2 (e), done before
   labelling so that it can join anything): a closing (dilation then
   erosion) with a disk of ``closing_radius`` px. LRP breaks one nucleus
   into dots (edges, chromatin); the closing joins them. Thresholded pieces
   of at least ``core_min_area`` px are *cores*: the closing never joins two
   cores; a closed component that holds several is split between them, each
   pixel to its nearest core (so two touching nuclei separated by a
   relevance valley below ``theta`` stay two). ``core_min_area=0``: a plain
   closing.
4. **Connected components** of the joined map (``connectivity``: 2 =
   8-connected, the authors' code; 1 = 4-connected).
5. **Outline** (``outline``): ``'relevance'`` (the paper): the component
   itself. ``'hematoxylin'``: relevance picks *which* nucleus, the stain gives
   *its outline*: the seeds are the hematoxylin-positive blobs of the image
   (``skimage.color.rgb2hed``, smoothed by ``stain_smooth_sigma``, above the
   image's Otsu threshold, holes filled, ``connectivity``) that overlap a
   component of step 4 on at least ``min_coverage`` of their pixels (0: any
   overlap); needs the RGB image.
6. **Shape prior** ``min_solidity``: a seed whose area over the area of its
   convex hull is below it is dropped (clumps of nuclei, crescents); 0 = off.
7. **Convex hull** of each seed (``convex_hull``): Fig. 2 (d).
8. **Area filter**: hulls outside ``[min_area, max_area]`` px are dropped (the
   expected nucleus size at the image's resolution; MoNuSeg at 40x: ~100-1500).
9. **At most K** (``max_seeds``, paper: 20) seeds: chosen uniformly at random
   with a numpy ``Generator`` seeded by ``(seed, key)`` (``selection='random'``,
   the paper's rule) or the K with the highest score (``selection='score'``).

A seed's score is the mean normalised relevance over the seed before its hull
(the component, or the hematoxylin blob). Where two hulls overlap, the earlier
seed keeps the pixel.

**Presets** (``preset``): a recipe is a preset plus the fields given next to it,
e.g. ``seed_recipe = dict(preset='paper', max_seeds=10)``. ``'paper'`` is the
paper's text (§III-A, Fig. 2) with its θ = 0.35 and K = 20, random choice, no
shape or stain prior; ``'default'`` (the dataclass defaults) is the recipe
chosen on the MoNuSeg training images (docs/front_end.md §7).
"""
import zlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from scipy import ndimage
from skimage.color import rgb2hed
from skimage.filters import threshold_otsu
from skimage.morphology import convex_hull_image, disk

NORMALISATIONS = ('percentile', 'max', 'minmax')
SELECTIONS = ('random', 'score')
OUTLINES = ('relevance', 'hematoxylin')

# The paper's recipe in this library's steps: theta 0.35, closing radius 2 joining the
# thresholded map (Fig. 2 (e)), 8-connected components, hull, a loose area filter, K = 20
# at random.
PAPER_RECIPE: Dict[str, Any] = dict(
    threshold=0.35, normalisation='percentile', percentile=99.0, smooth_sigma=0.0,
    closing_radius=2, core_min_area=0, connectivity=2, outline='relevance',
    stain_smooth_sigma=1.0, min_coverage=0.0, min_solidity=0.0, convex_hull=True, min_area=30,
    max_area=2000,
    max_seeds=20, selection='random')


@dataclass
class SeedRecipeConfig:
    """Parameters of :class:`SeedRecipe` (see the module docstring).

    The defaults are the ``'default'`` preset. Build a config with a preset
    through :meth:`from_dict` (or :class:`SeedRecipe`), which starts from the
    preset's values and applies the other fields given.
    """

    preset: str = 'default'
    threshold: float = 0.35
    normalisation: str = 'percentile'
    percentile: float = 99.0
    smooth_sigma: float = 0.0
    closing_radius: int = 2
    core_min_area: int = 0
    connectivity: int = 2
    outline: str = 'hematoxylin'
    stain_smooth_sigma: float = 1.0
    min_coverage: float = 0.0
    min_solidity: float = 0.93
    convex_hull: bool = True
    min_area: int = 150
    max_area: int = 1500
    max_seeds: int = 20
    selection: str = 'score'
    seed: int = 0

    def __post_init__(self) -> None:
        self._check_choices()
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f'threshold must be in [0, 1), got {self.threshold}')
        if not 0.0 < self.percentile <= 100.0:
            raise ValueError(f'percentile must be in (0, 100], got {self.percentile}')
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ValueError(f'min_coverage must be in [0, 1], got {self.min_coverage}')
        if not 0.0 <= self.min_solidity <= 1.0:
            raise ValueError(f'min_solidity must be in [0, 1], got {self.min_solidity}')
        if self.min_area > self.max_area:
            raise ValueError(f'min_area {self.min_area} > max_area {self.max_area}')
        if min(self.max_seeds, self.closing_radius, self.core_min_area, self.smooth_sigma,
               self.stain_smooth_sigma) < 0:
            raise ValueError('max_seeds, closing_radius, core_min_area, smooth_sigma and '
                             'stain_smooth_sigma must be >= 0')

    def _check_choices(self) -> None:
        for name, choices in (('preset', tuple(PRESETS)), ('normalisation', NORMALISATIONS),
                              ('selection', SELECTIONS), ('outline', OUTLINES),
                              ('connectivity', (1, 2))):
            if getattr(self, name) not in choices:
                raise ValueError(f'{name} must be one of {choices}, got {getattr(self, name)!r}')

    @classmethod
    def from_dict(cls, config: Optional[Dict[str, Any]] = None) -> 'SeedRecipeConfig':
        """The preset named by ``config['preset']`` (default ``'default'``) with the
        other keys of ``config`` applied over it.

        Args:
            config: Field values; unknown keys raise ``TypeError``.
        """
        config = dict(config or {})
        preset = config.get('preset', 'default')
        if preset not in PRESETS:
            raise ValueError(f'preset must be one of {tuple(PRESETS)}, got {preset!r}')
        return cls(**{**PRESETS[preset], **config, 'preset': preset})

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (written into the seed set's ``info``)."""
        return asdict(self)


PRESETS: Dict[str, Dict[str, Any]] = {
    'default': {},
    'paper': PAPER_RECIPE,
}
FIELD_NAMES = tuple(f.name for f in fields(SeedRecipeConfig))


@dataclass
class SeedResult:
    """Seeds of one image.

    Attributes:
        label_map: ``H x W`` int32, seeds numbered ``1..k``, 0 = background.
        scores: Score of seed ``i + 1`` (mean normalised relevance).
        num_components: Components of the joined thresholded map (step 4).
        num_in_area: Seeds that passed the shape and area filters.
    """

    label_map: np.ndarray
    scores: List[float] = field(default_factory=list)
    num_components: int = 0
    num_in_area: int = 0

    @property
    def num_seeds(self) -> int:
        return len(self.scores)


# A candidate seed: (y0, x0) of its crop, the completed crop mask, its score.
Candidate = Tuple[int, int, np.ndarray, float]


def _rng(seed: int, key: Union[int, str]) -> np.random.Generator:
    """Generator that depends only on ``(seed, key)`` (crc32 of a str key: stable across runs)."""
    key_int = zlib.crc32(key.encode()) if isinstance(key, str) else int(key)
    return np.random.default_rng(np.random.SeedSequence([int(seed), key_int]))


def _grow(slices: Tuple[slice, slice], margin: int,
          shape: Tuple[int, int]) -> Tuple[slice, slice]:
    return tuple(slice(max(0, s.start - margin), min(n, s.stop + margin))
                 for s, n in zip(slices, shape))


def hematoxylin_blobs(image: np.ndarray, smooth_sigma: float = 1.0,
                      connectivity: int = 2) -> Tuple[np.ndarray, int]:
    """Label the hematoxylin-positive blobs of an H&E image.

    Args:
        image: ``H x W x 3`` RGB (uint8 or float in [0, 1]).
        smooth_sigma: Gaussian smoothing of the hematoxylin channel (px).
        connectivity: 1 (4-connected) or 2 (8-connected).

    Returns:
        ``(labels, count)``: blobs above the channel's Otsu threshold, holes filled.
    """
    stain = rgb2hed(np.asarray(image)[..., :3])[..., 0]
    if smooth_sigma > 0:
        stain = ndimage.gaussian_filter(stain, smooth_sigma)
    if np.ptp(stain) == 0:
        return np.zeros(stain.shape, np.int32), 0
    mask = ndimage.binary_fill_holes(stain > threshold_otsu(stain))
    return ndimage.label(mask, ndimage.generate_binary_structure(2, connectivity))


class SeedRecipe:
    """Turn a relevance map into at most K instance seeds.

    Args:
        config: A :class:`SeedRecipeConfig`, a dict of its fields (``preset``
            first resolved), or None for the default preset; keyword arguments
            override single fields.
    """

    def __init__(self, config: Union[SeedRecipeConfig, Dict[str, Any], None] = None,
                 **overrides: Any) -> None:
        if isinstance(config, SeedRecipeConfig):
            config = config.to_dict()
        self.config = SeedRecipeConfig.from_dict({**dict(config or {}), **overrides})

    @property
    def needs_image(self) -> bool:
        """Whether :meth:`__call__` needs the RGB image (stain outlines)."""
        return self.config.outline == 'hematoxylin'

    def normalise(self, relevance: np.ndarray) -> np.ndarray:
        """Positive part of (optionally smoothed) ``relevance`` scaled to ``[0, 1]``."""
        cfg = self.config
        relevance = np.asarray(relevance, dtype=np.float64)
        if relevance.ndim != 2:
            raise ValueError(f'a relevance map must be 2-D, got shape {relevance.shape}')
        relevance = np.nan_to_num(relevance, nan=0.0)
        if cfg.smooth_sigma > 0:
            relevance = ndimage.gaussian_filter(relevance, cfg.smooth_sigma)
        if cfg.normalisation == 'minmax':
            # Attention rollout is positive everywhere: evidence is the excess over the
            # map's own floor, not the value itself.
            relevance = relevance - relevance.min()
        positive = np.clip(relevance, 0, None)
        values = positive[positive > 0]
        if values.size == 0:
            return np.zeros_like(positive)
        scale = values.max() if cfg.normalisation == 'max' else np.percentile(
            values, cfg.percentile)
        return np.clip(positive / scale, 0, 1) if scale > 0 else np.zeros_like(positive)

    def join(self, mask: np.ndarray) -> np.ndarray:
        """Step 3: the thresholded ``mask`` closed so that fragments join, never two cores.

        Returns:
            Label map of the joined components (step 4; labels need not be consecutive).
        """
        cfg = self.config
        structure = ndimage.generate_binary_structure(2, cfg.connectivity)
        if not cfg.closing_radius:
            return ndimage.label(mask, structure)[0]
        footprint = disk(cfg.closing_radius)
        # Pad so that the closing does not stick to the image border.
        padded = np.pad(mask, cfg.closing_radius)
        closed = ndimage.binary_closing(padded, footprint)[
            cfg.closing_radius:-cfg.closing_radius, cfg.closing_radius:-cfg.closing_radius]
        joined, _ = ndimage.label(closed, structure)
        if cfg.core_min_area <= 0:
            return joined
        return self._split_cores(mask, joined, structure)

    def _split_cores(self, mask: np.ndarray, joined: np.ndarray,
                     structure: np.ndarray) -> np.ndarray:
        """Give every pixel of a joined component holding several cores to its nearest core."""
        pieces, count = ndimage.label(mask, structure)
        is_core = np.bincount(pieces.ravel(), minlength=count + 1) >= self.config.core_min_area
        is_core[0] = False
        cores = np.where(is_core[pieces], pieces, 0)
        if not cores.any():
            return joined
        # (component, core) pairs -> number of cores in each joined component
        pairs = np.unique(np.stack([joined[cores > 0], cores[cores > 0]]), axis=1)
        shared = np.bincount(pairs[0], minlength=joined.max() + 1)[joined] >= 2
        if not shared.any():
            return joined
        _, (iy, ix) = ndimage.distance_transform_edt(cores == 0, return_indices=True)
        split = joined.copy()
        split[shared] = joined.max() + cores[iy, ix][shared]
        return split

    def _outlines(self, joined: np.ndarray, image: Optional[np.ndarray]) -> np.ndarray:
        """Step 5: the label map whose regions are the seeds before hull and filters."""
        if self.config.outline == 'relevance':
            return joined
        if image is None:
            raise ValueError("outline='hematoxylin' needs the RGB image")
        if np.asarray(image).shape[:2] != joined.shape:
            raise ValueError(f'image shape {np.asarray(image).shape[:2]} differs from the '
                             f'relevance map {joined.shape}')
        blobs, _ = hematoxylin_blobs(image, self.config.stain_smooth_sigma,
                                     self.config.connectivity)
        covered = np.bincount(blobs[joined > 0], minlength=blobs.max() + 1)
        covered[0] = 0
        size = np.bincount(blobs.ravel(), minlength=blobs.max() + 1)
        keep = (covered > 0) & (covered >= self.config.min_coverage * size)
        return np.where(keep[blobs], blobs, 0)

    def _complete(self, region: np.ndarray) -> Optional[np.ndarray]:
        """Steps 6-8 on one region's crop: solidity, hull, area; None when filtered out."""
        cfg = self.config
        hull = convex_hull_image(region) if (cfg.convex_hull or cfg.min_solidity) else region
        if cfg.min_solidity and region.sum() < cfg.min_solidity * hull.sum():
            return None
        seed = hull if cfg.convex_hull else region
        return seed if cfg.min_area <= seed.sum() <= cfg.max_area else None

    def candidates(self, norm: np.ndarray, regions: np.ndarray) -> List[Candidate]:
        """Steps 6-8 on every region of ``regions``: the seeds that pass, in label order."""
        found = []
        for index, slices in enumerate(ndimage.find_objects(regions), start=1):
            # The hull stays inside the region's bounding box: a box smaller than
            # min_area cannot pass the area filter.
            if slices is None or ((slices[0].stop - slices[0].start)
                                  * (slices[1].stop - slices[1].start) < self.config.min_area):
                continue
            region = regions[slices] == index
            if region.sum() > self.config.max_area:  # the seed holds the region
                continue
            seed = self._complete(region)
            if seed is not None:
                found.append((slices[0].start, slices[1].start, seed,
                              float(norm[slices][region].mean())))
        return found

    def __call__(self, relevance: np.ndarray, key: Union[int, str] = 0,
                 rng: Optional[np.random.Generator] = None,
                 image: Optional[np.ndarray] = None) -> SeedResult:
        """Seeds of one relevance map.

        Args:
            relevance: ``H x W`` relevance (any scale; only its positive part counts).
            key: Image key mixed into the random choice of seeds (e.g. the
                image id), so each image gets its own reproducible draw.
            rng: Use this generator instead of ``(config.seed, key)``.
            image: ``H x W x 3`` RGB image (needed by ``outline='hematoxylin'``).

        Returns:
            A :class:`SeedResult`.
        """
        cfg = self.config
        norm = self.normalise(relevance)
        joined = self.join(norm > cfg.threshold)
        found = self.candidates(norm, self._outlines(joined, image))
        if cfg.selection == 'score':  # stable: ties keep the label order
            keep = sorted(range(len(found)), key=lambda i: -found[i][3])[:cfg.max_seeds]
        else:
            rng = rng if rng is not None else _rng(cfg.seed, key)
            keep = rng.permutation(len(found))[:cfg.max_seeds] if found else []
        label_map = np.zeros(norm.shape, dtype=np.int32)
        scores = []
        for y0, x0, seed, score in (found[i] for i in sorted(keep)):
            window = label_map[y0:y0 + seed.shape[0], x0:x0 + seed.shape[1]]
            free = seed & (window == 0)
            if free.any():
                scores.append(score)
                window[free] = len(scores)
        return SeedResult(label_map, scores, num_components=np.count_nonzero(np.unique(joined)),
                          num_in_area=len(found))
