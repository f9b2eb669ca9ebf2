"""QuPath region annotations → image-level labelled tiles (the classifier's pos/neg set).

A pathologist draws regions in QuPath and classifies them, e.g. "Nuclei"
(holds target nuclei) and "No nuclei" (holds none), and exports them with
*File > Export objects as GeoJSON*. :func:`cut_region_tiles` reads that export
(:func:`mmcyclic.wsi.qupath.read_qupath_objects`), maps each class to
positive, negative or ignore, and cuts tiles of the classifier's size at the
model's mpp on a grid over each slide:

* a tile is positive (negative) when at least ``min_coverage`` of it lies in
  the positive (negative) regions and none of it in a negative (positive) one;
* a tile touching both is ambiguous and dropped; a tile touching an ignore
  region is dropped; a tile only partly covered is not used;
* tiles outside every region are unlabelled, never negatives.

Annotations whose class is in no list, unclassified ones, detections and
cells, invalid or empty polygons, and regions off the slide are counted by
reason (:class:`TileReport`), nothing is dropped silently.

Output (the layout :class:`~mmcyclic.datasets.tile_dataset.ImageLabelTileDataset` reads):
``<out>/pos/<stem>_x<X>_y<Y>.png``, ``<out>/neg/...``, ``<out>/tiles.csv``
(``path,label,slide,x,y,w,h,mpp,class,coverage``; ``x, y, w, h`` in level-0
pixels of the slide) and ``<out>/summary.json``.
"""
import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import shapely
from shapely import affinity

from mmcyclic.datasets.io import write_image
from mmcyclic.utils.atomic import atomic_write_bytes, atomic_write_json
from mmcyclic.utils.progress import Progress

from .qupath import read_qupath_objects
from .resolution import ModelGridReader, plan_resolution
from .slide import Slide, SlideReadError

PathLike = Union[str, os.PathLike]
ANNOTATION_SUFFIXES = ('.geojson', '.json', '.geojson.gz', '.json.gz')
CSV_COLUMNS = ('path', 'label', 'slide', 'x', 'y', 'w', 'h', 'mpp', 'class', 'coverage')


@dataclass(frozen=True)
class ClassMap:
    """Which QuPath classes are positive, negative or ignored.

    Raises:
        ValueError: no positive or no negative class, or a class in two lists.
    """

    positive: Tuple[str, ...]
    negative: Tuple[str, ...]
    ignore: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.positive or not self.negative:
            raise ValueError('name at least one --pos-class and one --neg-class')
        lists = [set(self.positive), set(self.negative), set(self.ignore)]
        twice = (lists[0] & lists[1]) | (lists[0] & lists[2]) | (lists[1] & lists[2])
        if twice:
            raise ValueError(f'class(es) {sorted(twice)} given in more than one of --pos-class, '
                             '--neg-class and --ignore-class')

    def role(self, class_name: Optional[str]) -> Optional[str]:
        """``'pos'``, ``'neg'``, ``'ignore'`` or ``None`` (not listed)."""
        for role, names in (('pos', self.positive), ('neg', self.negative),
                            ('ignore', self.ignore)):
            if class_name in names:
                return role
        return None


@dataclass
class TileReport:
    """Counts of one run.

    Attributes:
        tiles: ``{(slide, label): count}`` of tiles written.
        regions: ``{(slide, class): count}`` of regions used.
        skipped_objects: ``{reason: count}`` of annotations not used.
        dropped_tiles: ``{reason: count}`` of grid tiles inside regions but not written.
        failed_slides: ``{slide: reason}`` of slides that could not be read.
    """

    tiles: Counter = field(default_factory=Counter)
    regions: Counter = field(default_factory=Counter)
    skipped_objects: Counter = field(default_factory=Counter)
    dropped_tiles: Counter = field(default_factory=Counter)
    failed_slides: Dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready counts."""
        return {
            'tiles': [{'slide': s, 'label': lab, 'count': n}
                      for (s, lab), n in sorted(self.tiles.items())],
            'regions': [{'slide': s, 'class': c, 'count': n}
                        for (s, c), n in sorted(self.regions.items())],
            'skipped_objects': {r: n for r, n in sorted(self.skipped_objects.items()) if n},
            'dropped_tiles': {r: n for r, n in sorted(self.dropped_tiles.items()) if n},
            'failed_slides': self.failed_slides,
        }

    def lines(self) -> List[str]:
        """A readable report, one line per count."""
        out = [f'{s}: {n} {lab} tiles' for (s, lab), n in sorted(self.tiles.items())]
        out += [f'{s}: {n} region(s) of class "{c}"' for (s, c), n in sorted(self.regions.items())]
        out += [f'skipped {n} object(s): {r}'
                for r, n in sorted(self.skipped_objects.items()) if n]
        out += [f'dropped {n} tile(s): {r}' for r, n in sorted(self.dropped_tiles.items()) if n]
        out += [f'FAILED {s}: {r}' for s, r in self.failed_slides.items()]
        return out


def find_annotation_file(folder_or_file: PathLike, slide_path: Path) -> Optional[Path]:
    """The annotation file of a slide: the file itself, or ``<folder>/<slide stem><suffix>``."""
    target = Path(folder_or_file)
    if target.is_file():
        return target
    stem = slide_path.name.split('.')[0]
    for suffix in ANNOTATION_SUFFIXES:
        for name in (f'{slide_path.stem}{suffix}', f'{stem}{suffix}'):
            if (target / name).is_file():
                return target / name
    return None


def _regions_of_slide(annotation_file: Path, classes: ClassMap, slide: Slide, slide_key: str,
                      origin: Tuple[float, float], report: TileReport) -> Dict[str, object]:
    """The union of each role's regions (and, under ``'classes'``, of each class's) in
    level-0 slide pixels, clipped to the slide."""
    objects, read = read_qupath_objects(annotation_file)
    report.skipped_objects.update({f'{r} ({annotation_file.name})': n
                                   for r, n in read.skipped.items()})
    if read.repaired:
        report.skipped_objects[f'invalid polygons repaired, kept ({annotation_file.name})'] += \
            read.repaired
    width, height = slide.dimensions
    slide_box = shapely.box(0, 0, width, height)
    parts: Dict[str, list] = {'pos': [], 'neg': [], 'ignore': []}
    by_class: Dict[str, list] = {}
    for obj in objects:
        if obj.object_type != 'annotation':
            report.skipped_objects[f'{obj.object_type} objects, not annotations'] += 1
            continue
        if obj.class_name is None:
            report.skipped_objects['unclassified annotations'] += 1
            continue
        role = classes.role(obj.class_name)
        if role is None:
            report.skipped_objects[f'class "{obj.class_name}" is in no --pos/--neg/--ignore-class'
                                   ] += 1
            continue
        region = affinity.translate(obj.geometry, *origin)
        inside = region.intersection(slide_box)
        if inside.is_empty or inside.area == 0:
            report.skipped_objects['regions outside the slide'] += 1
            continue
        if inside.area < region.area * (1 - 1e-9):
            report.skipped_objects['regions partly outside the slide (clipped, kept)'] += 1
        parts[role].append(inside)
        by_class.setdefault(obj.class_name, []).append(inside)
        report.regions[(slide_key, obj.class_name)] += 1
    unions: Dict[str, object] = {role: shapely.union_all(g) if g else None
                                 for role, g in parts.items()}
    unions['classes'] = {name: shapely.union_all(g) for name, g in by_class.items()}
    return unions


def _coverage(boxes: np.ndarray, region) -> np.ndarray:
    if region is None:
        return np.zeros(len(boxes))
    return shapely.area(shapely.intersection(boxes, region)) / shapely.area(boxes)


def cut_region_tiles(slides: Sequence[Path], annotations: PathLike, out_dir: PathLike,
                     classes: ClassMap, model_mpp: float, tile_size: int = 224,
                     stride: Optional[int] = None, min_coverage: float = 0.9,
                     max_tiles_per_class: Optional[int] = None, seed: int = 0,
                     slide_mpp: Optional[float] = None, backend: str = 'auto',
                     coordinates: str = 'qupath', progress: bool = True) -> TileReport:
    """Cut labelled tiles from the regions of every slide (module docstring).

    Args:
        slides: Slide files.
        annotations: One GeoJSON file (for one slide) or a folder of
            ``<slide stem>.geojson[.gz]`` / ``.json``.
        out_dir: Output folder.
        classes: The class roles.
        model_mpp: µm per pixel of the tiles (the classifier's training scale).
        tile_size: Tile side in model pixels.
        stride: Grid step in model pixels (default ``tile_size``: no overlap).
        min_coverage: Fraction of a tile that must lie in its class's regions.
        max_tiles_per_class: Keep at most this many tiles per label and slide
            (a random subset, reproducible by ``seed``).
        seed: Seed of that subset.
        slide_mpp: Overrides the slides' mpp.
        backend: Slide reader (:func:`~mmcyclic.wsi.slide.open_slide`).
        coordinates: ``'qupath'``: annotation coordinates are relative to the
            slide's bounds origin where it has one (QuPath's OpenSlide frame);
            ``'slide'``: level-0 pixels of the file.
        progress: Show a bar per slide.

    Raises:
        ValueError: bad sizes or coverage.
        mmcyclic.wsi.resolution.ResolutionError: a slide has no mpp (names ``--slide-mpp``).
    """
    from .slide import open_slide
    stride = stride or tile_size
    if tile_size < 1 or stride < 1:
        raise ValueError(f'tile size and stride must be positive, got {tile_size}, {stride}')
    if not 0 < min_coverage <= 1:
        raise ValueError(f'--min-coverage must be in (0, 1], got {min_coverage}')
    out_dir = Path(out_dir)
    report = TileReport()
    rows: List[List[object]] = []
    rng = np.random.default_rng(seed)
    for slide_path in slides:
        annotation_file = find_annotation_file(annotations, Path(slide_path))
        if annotation_file is None:
            report.skipped_objects[f'slides without an annotation file ({Path(slide_path).name})'
                                   ] += 1
            continue
        try:
            with open_slide(slide_path, backend) as slide:
                plan = plan_resolution(slide, model_mpp, slide_mpp)
                origin = slide.bounds[:2] if coordinates == 'qupath' and slide.bounds else (0, 0)
                key = Path(slide_path).name
                regions = _regions_of_slide(annotation_file, classes, slide, key, origin, report)
                rows += _cut_slide(slide, plan, regions, key, out_dir, tile_size, stride,
                                   min_coverage, max_tiles_per_class, rng, report, progress,
                                   classes)
        except SlideReadError as error:
            report.failed_slides[str(slide_path)] = str(error)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    atomic_write_bytes(out_dir / 'tiles.csv', buffer.getvalue().encode())
    atomic_write_json(out_dir / 'summary.json', report.as_dict(), indent=1)
    return report


def _cut_slide(slide: Slide, plan, regions: Dict[str, object], key: str, out_dir: Path,
               tile_size: int, stride: int, min_coverage: float,
               max_tiles: Optional[int], rng: np.random.Generator,
               report: TileReport, progress: bool, classes: ClassMap) -> List[List[object]]:
    """Label the grid tiles inside the regions of one slide and write them."""
    reader = ModelGridReader(slide, plan)
    labelled = [r for r in (regions['pos'], regions['neg']) if r is not None]
    if not labelled:
        return []
    f = plan.level0_per_model
    x0, y0, x1, y1 = shapely.union_all(labelled).bounds
    rows_m = range(max(0, int(y0 / f) // stride),
                   min(reader.shape[0] - tile_size, int(y1 / f)) // stride + 1)
    cols_m = range(max(0, int(x0 / f) // stride),
                   min(reader.shape[1] - tile_size, int(x1 / f)) // stride + 1)
    origins = np.array([(r * stride, c * stride) for r in rows_m for c in cols_m], np.int64)
    if origins.size == 0:
        report.dropped_tiles['regions smaller than one tile'] += 1
        return []
    boxes = shapely.box(origins[:, 1] * f, origins[:, 0] * f, (origins[:, 1] + tile_size) * f,
                        (origins[:, 0] + tile_size) * f)
    pos, neg = _coverage(boxes, regions['pos']), _coverage(boxes, regions['neg'])
    ignored = _coverage(boxes, regions['ignore']) > 0
    touched = (pos > 0) | (neg > 0)
    ambiguous = (pos > 0) & (neg > 0)
    report.dropped_tiles['ambiguous: in positive and negative regions'] += int(
        np.count_nonzero(ambiguous & ~ignored))
    report.dropped_tiles['touch an ignore region'] += int(np.count_nonzero(ignored & touched))
    usable = ~ambiguous & ~ignored
    chosen = {'pos': np.flatnonzero(usable & (pos >= min_coverage)),
              'neg': np.flatnonzero(usable & (neg >= min_coverage))}
    partial = usable & touched & (np.maximum(pos, neg) < min_coverage)
    report.dropped_tiles[f'covered under --min-coverage {min_coverage}'] += int(
        np.count_nonzero(partial))
    rows = []
    stem = Path(key).name.split('.')[0]
    total = sum(len(v) if max_tiles is None else min(len(v), max_tiles) for v in chosen.values())
    bar = Progress(total, progress, desc=key, unit='tile')
    for label, indices in chosen.items():
        if max_tiles is not None and len(indices) > max_tiles:
            report.dropped_tiles[f'over --max-tiles-per-class {max_tiles}'] += \
                len(indices) - max_tiles
            indices = np.sort(rng.choice(indices, max_tiles, replace=False))
        coverage = pos if label == 'pos' else neg
        names = classes.positive if label == 'pos' else classes.negative
        per_class = np.stack([_coverage(boxes[indices], regions['classes'].get(n)) for n in names])
        for k, index in enumerate(indices):
            my, mx = (int(v) for v in origins[index])
            x, y, side = int(round(mx * f)), int(round(my * f)), int(round(tile_size * f))
            name = f'{label}/{stem}_x{x}_y{y}.png'
            write_image(out_dir / name, reader.read((my, mx, my + tile_size, mx + tile_size)))
            rows.append([name, label, key, x, y, side, side, plan.model_mpp,
                         names[int(np.argmax(per_class[:, k]))], round(float(coverage[index]), 4)])
            report.tiles[(key, label)] += 1
            bar.update()
    bar.close()
    return rows
