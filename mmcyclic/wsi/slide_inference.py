"""Segment every nucleus of a whole slide, streaming, in flat memory, resumable.

:func:`segment_slide` runs one slide:

1. open it (:mod:`mmcyclic.wsi.slide`), choose the level and resampling for
   the model's mpp (:mod:`mmcyclic.wsi.resolution`) and cut the model grid
   (optionally a ``region``) into the overlapping tile grid of
   :func:`~mmcyclic.apis.tiled_inference.tile_windows`;
2. keep the tiles with at least ``min_tissue_fraction`` tissue
   (:mod:`mmcyclic.wsi.tissue`);
3. read them in a ``torch`` DataLoader (``workers`` processes, each with its
   own slide handle) one *band* (row of tiles) at a time, in batches that
   never span two bands, through the predictor (e.g.
   :meth:`~mmcyclic.apis.NucleiSegmenter.predict_tiles`);
4. stitch with the rule of :mod:`mmcyclic.evaluation.stitching`, streamed
   (:mod:`mmcyclic.wsi.streaming_stitch`): after each band the nuclei behind
   the frontier are traced, mapped to level-0 pixels (QuPath's frame with
   ``coordinates='qupath'``: minus the slide's bounds origin), snapped to
   QuPath's 0.01 px grid and committed to ``<stem>.db``
   (:mod:`mmcyclic.wsi.store`) in one transaction with the band's done mark
   and the stitcher's open predictions;
5. export ``<stem>.geojson.gz`` from the store, write ``<stem>.summary.json``.

A rerun of a killed slide resumes after its last committed band and ends with
byte-identical files; a finished slide is skipped; a slide run with another
checkpoint, config, settings or file is refused unless ``overwrite``.
No array of slide size is made: the largest are one batch of tiles, the
tissue thumbnail and the open predictions of about one band.
"""
import json
import math
import os
import resource
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from shapely.geometry import MultiPolygon, Polygon

from mmcyclic.apis.result import trace_crop
from mmcyclic.apis.tiled_inference import Tile, TileInstances, tile_windows
from mmcyclic.datasets.io import read_image
from mmcyclic.utils.progress import Progress

from .qupath import (detection_feature, read_qupath_objects, snap_to_qupath_grid,
                     write_feature_collection)
from .resolution import ModelGridReader, ResolutionPlan, plan_resolution
from .slide import Slide, open_slide
from .store import NucleusStore
from .streaming_stitch import StitchedNucleus, StreamingStitcher
from .tissue import TissueMask, detect_tissue, mask_from_annotations, mask_from_image

PathLike = Union[str, os.PathLike]
TilePredictor = Callable[[Sequence[Tile]], List[Any]]
FORMATS = ('geojson.gz', 'geojson', 'db')
# Test hook: the process kills itself (SIGKILL) after this many tiles (resume tests).
KILL_AFTER_TILES_ENV = 'MMCYCLIC_TEST_KILL_AFTER_TILES'


class ResumeRefused(ValueError):
    """An earlier partial run of the slide used other inputs; the message names --overwrite."""


@dataclass(frozen=True)
class SlideOptions:
    """How a slide is read, masked and exported (``tools/infer_wsi.py`` flags).

    Attributes:
        model_mpp: µm per pixel the model expects (config ``inference.mpp``).
        slide_mpp: Overrides the slide's level-0 mpp.
        mpp_tolerance: Relative difference read as is.
        allow_upsample: Accept a slide coarser than the model.
        tissue: ``'auto'`` (Otsu), ``'none'`` (every tile), a mask picture or a
            QuPath GeoJSON (with ``roi_classes``).
        roi_classes: Classes of the GeoJSON annotations that count (empty: all).
        min_tissue_fraction: Tiles with less tissue are not sent to the model.
        mask_mpp: µm per pixel of the tissue mask.
        region: ``(x, y, w, h)`` in level-0 pixels of the file, or ``None`` (all).
        coordinates: ``'qupath'`` (minus the bounds origin) or ``'slide'``.
        class_name: QuPath class of the detections.
        color: Its colour.
        backend: Slide reader.
        workers: DataLoader worker processes (0: read in the main process).
        formats: Subset of :data:`FORMATS` (``db`` is always written: it is the run state).
        overwrite: Start over even if a partial or finished run exists.
        merge_iou: Stitch merge threshold.
        min_area: Stitched nuclei of fewer model pixels are dropped and counted
            (``dropped_below_min_area``), as :class:`~mmcyclic.apis.NucleiSegmenter` does.
    """

    model_mpp: float
    slide_mpp: Optional[float] = None
    mpp_tolerance: float = 0.10
    allow_upsample: bool = False
    tissue: str = 'auto'
    roi_classes: Tuple[str, ...] = ()
    min_tissue_fraction: float = 0.05
    mask_mpp: float = 8.0
    region: Optional[Tuple[int, int, int, int]] = None
    coordinates: str = 'qupath'
    class_name: str = 'Nucleus'
    color: Tuple[int, int, int] = (0, 200, 0)
    backend: str = 'auto'
    workers: int = 0
    formats: Tuple[str, ...] = ('geojson.gz', 'db')
    overwrite: bool = False
    merge_iou: float = 0.5
    min_area: int = 1

    def __post_init__(self) -> None:
        if self.coordinates not in ('qupath', 'slide'):
            raise ValueError(f'coordinates must be qupath or slide, got {self.coordinates!r}')
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f'unknown format(s) {unknown}; choose from {list(FORMATS)}')
        if not 0 <= self.min_tissue_fraction <= 1:
            raise ValueError('--min-tissue-fraction must be in [0, 1]')


@dataclass
class _Grid:
    """The tile grid of the processed area, in model pixels."""

    origin: Tuple[int, int]  # (y, x) of the area in the model grid
    shape: Tuple[int, int]
    bands: List[List[Tuple[int, int, int, int]]]  # kept windows (area coords) per tile row
    band_starts: List[int]
    total_tiles: int
    kept_tiles: int = field(default=0)


class _TileDataset(torch.utils.data.Dataset):
    """Tiles read from the slide; each process opens its own handle on first use."""

    def __init__(self, path: Path, backend: str, plan: ResolutionPlan,
                 items: List[Tuple[int, Tuple[int, int, int, int]]],
                 origin: Tuple[int, int]) -> None:
        self.path, self.backend, self.plan = path, backend, plan
        self.items, self.origin = items, origin
        self._reader: Optional[ModelGridReader] = None

    def __len__(self) -> int:
        return len(self.items)

    def close(self) -> None:
        """Close this process's slide handle, if it opened one."""
        if self._reader is not None:
            self._reader.slide.close()
            self._reader = None

    def __getitem__(self, index: int) -> Tuple[int, Tile]:
        if self._reader is None:
            self._reader = ModelGridReader(open_slide(self.path, self.backend), self.plan)
        band, (y0, x0, y1, x1) = self.items[index]
        oy, ox = self.origin
        image = self._reader.read((y0 + oy, x0 + ox, y1 + oy, x1 + ox))
        return band, Tile(np.ascontiguousarray(image), (y0, x0, y1, x1))


def _band_batches(items: List[Tuple[int, Any]], batch_size: int) -> List[List[int]]:
    """Index batches of at most ``batch_size`` that never span two bands."""
    batches: List[List[int]] = []
    for index, (band, _) in enumerate(items):
        if batches and len(batches[-1]) < batch_size and items[batches[-1][0]][0] == band:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def _tissue_mask(slide: Slide, plan: ResolutionPlan, options: SlideOptions,
                 progress: bool) -> Optional[TissueMask]:
    if options.tissue == 'none':
        return None
    if options.tissue == 'auto':
        return detect_tissue(slide, plan.slide_mpp, options.mask_mpp, progress=progress)
    path = Path(options.tissue)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: tissue mask not found (--tissue takes auto, none, a '
                                'mask picture or a QuPath GeoJSON)')
    if path.suffix.lower() in ('.png', '.tif', '.tiff', '.jpg', '.jpeg', '.bmp'):
        return mask_from_image(read_image(path), slide.dimensions, str(path))
    objects, _ = read_qupath_objects(path)
    chosen = [o for o in objects if o.object_type == 'annotation'
              and (not options.roi_classes or o.class_name in options.roi_classes)]
    if not chosen:
        raise ValueError(f'{path}: no annotation of class(es) {list(options.roi_classes)}; '
                         'check --roi-class against the classes in QuPath')
    origin = _origin(slide, options)
    rings = []
    for obj in chosen:
        for polygon in getattr(obj.geometry, 'geoms', [obj.geometry]):
            rings.append([np.asarray(polygon.exterior.coords) + origin]
                         + [np.asarray(h.coords) + origin for h in polygon.interiors])
    downsample = options.mask_mpp / plan.slide_mpp
    return mask_from_annotations(rings, slide.dimensions, downsample,
                                 f'{path} ({", ".join(options.roi_classes) or "all classes"})')


def _origin(slide: Slide, options: SlideOptions) -> np.ndarray:
    """Level-0 offset of QuPath's frame in the file's frame."""
    if options.coordinates == 'qupath' and slide.bounds:
        return np.array(slide.bounds[:2], float)
    return np.zeros(2)


def _grid(reader: ModelGridReader, plan: ResolutionPlan, tile_size: int, overlap: int,
          options: SlideOptions, tissue: Optional[TissueMask]) -> _Grid:
    f = plan.level0_per_model
    if options.region is None:
        origin, shape = (0, 0), reader.shape
    else:
        x, y, w, h = options.region
        oy, ox = int(math.ceil(y / f)), int(math.ceil(x / f))
        ey, ex = min(int((y + h) // f), reader.shape[0]), min(int((x + w) // f), reader.shape[1])
        if ey <= oy or ex <= ox:
            raise ValueError(f'--region {options.region} lies outside the slide '
                             f'({reader.slide.dimensions[0]} x {reader.slide.dimensions[1]} px)')
        origin, shape = (oy, ox), (ey - oy, ex - ox)
    windows = tile_windows(*shape, tile_size, overlap)
    starts = sorted({w[0] for w in windows})
    bands: List[List[Tuple[int, int, int, int]]] = [[] for _ in starts]
    row_of = {s: i for i, s in enumerate(starts)}
    kept = 0
    for y0, x0, y1, x1 in windows:
        if tissue is not None:
            oy, ox = origin
            fraction = tissue.fraction((x0 + ox) * f, (y0 + oy) * f, (x1 + ox) * f, (y1 + oy) * f)
            if fraction < options.min_tissue_fraction or fraction == 0:
                continue
        bands[row_of[y0]].append((y0, x0, y1, x1))
        kept += 1
    return _Grid(origin, shape, bands, starts, len(windows), kept)


def _geometry(nucleus: StitchedNucleus, scale: float, shift: np.ndarray):
    """The nucleus as a shapely (Multi)Polygon in output coordinates (before snapping)."""
    polygons = []
    for part in trace_crop(nucleus.mask, nucleus.y0, nucleus.x0):
        rings = [ring * scale - shift for ring in part]
        polygons.append(Polygon(rings[0], rings[1:]))
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def _properties(geometry, nucleus: StitchedNucleus, options: SlideOptions,
                mpp: float) -> Dict[str, Any]:
    centroid = geometry.centroid
    return {'type': options.class_name, 'score': round(nucleus.score, 6),
            'area_px': round(float(geometry.area), 2),
            'area_um2': round(float(geometry.area) * mpp * mpp, 4),
            'centroid_um': [round(centroid.x * mpp, 3), round(centroid.y * mpp, 3)]}


def _features(store: NucleusStore, options: SlideOptions):
    for geometry, props in store.iter_nuclei():
        yield detection_feature(geometry, options.class_name, options.color, {
            'Score': props['score'], 'Area px^2': props['area_px'],
            'Area µm^2': props['area_um2'], 'Centroid X µm': props['centroid_um'][0],
            'Centroid Y µm': props['centroid_um'][1]})


def reset_peak_rss() -> None:
    """Start a new peak-memory measurement (Linux: ``clear_refs`` 5 resets ``VmHWM``)."""
    try:
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')
    except OSError:  # not Linux, or not allowed: the peak then counts from the start
        pass


def peak_rss_mb() -> float:
    """Peak resident memory in MB since :func:`reset_peak_rss` (or the process start)."""
    try:
        with open('/proc/self/status') as handle:
            for line in handle:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def segment_slide(path: PathLike, predictor: TilePredictor, tile_size: int, overlap: int,
                  batch_size: int, score_thr: float, options: SlideOptions, out_dir: PathLike,
                  identity: Dict[str, Any], progress: bool = True,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Segment one slide and write its outputs (module docstring).

    Args:
        path: The slide.
        predictor: Batch of :class:`~mmcyclic.apis.tiled_inference.Tile` -> per tile
            :class:`~mmcyclic.apis.tiled_inference.TileInstances` or ``(masks, scores)``.
        tile_size: Largest tile side in model pixels.
        overlap: Smallest tile overlap (at least the largest nucleus).
        batch_size: Tiles per predictor call.
        score_thr: Instances below this score are dropped before stitching.
        options: See :class:`SlideOptions`.
        out_dir: Output folder.
        identity: What the results depend on besides the slide and the options
            (config and checkpoint hashes); a partial run with another identity
            is refused.
        progress: Show bars.
        log: Receives one line per event.

    Returns:
        The summary (also written to ``<stem>.summary.json``).

    Raises:
        ResumeRefused: a partial or finished run with another identity exists.
        mmcyclic.wsi.resolution.ResolutionError: mpp missing or unusable.
        mmcyclic.wsi.slide.SlideReadError: the slide cannot be read.
    """
    path, out_dir = Path(path), Path(out_dir)
    stem = path.name.split('.')[0]
    started = time.perf_counter()
    reset_peak_rss()
    with open_slide(path, options.backend) as slide:
        plan = plan_resolution(slide, options.model_mpp, options.slide_mpp, options.mpp_tolerance,
                               options.allow_upsample)
        run_key = {'slide': path.name, 'quickhash': slide.quickhash(), **identity,
                   'settings': {'tile_size': tile_size, 'overlap': overlap,
                                'batch_size': batch_size, 'score_thr': score_thr,
                                **{k: v for k, v in asdict(options).items()
                                   if k not in ('workers', 'overwrite', 'formats')}},
                   'plan': plan.as_dict()}
        run_key = json.loads(json.dumps(run_key))  # tuples -> lists, as stored
        db_path = out_dir / f'{stem}.db'
        if options.overwrite:
            for old in (db_path, out_dir / f'{stem}.db-journal'):
                old.unlink(missing_ok=True)
        with NucleusStore(db_path) as store:
            stored_key = store.run_value('run_key')
            if stored_key is not None and stored_key != run_key:
                changed = sorted(k for k in set(run_key) | set(stored_key)
                                 if run_key.get(k) != stored_key.get(k))
                raise ResumeRefused(
                    f'{db_path}: an earlier run of {path.name} used other {", ".join(changed)}; '
                    'pass --overwrite to start this slide again, or another --out.')
            if store.run_value('finished') and _outputs_present(out_dir, stem, options):
                log(f'{path.name}: finished earlier, skipped ({db_path})')
                return json.loads((out_dir / f'{stem}.summary.json').read_text())
            if stored_key is None:
                store.set_run_values({'run_key': run_key})
            summary = _run_bands(slide, path, plan, predictor, tile_size, overlap, batch_size,
                                 score_thr, options, store, run_key['quickhash'], progress, log,
                                 started)
            _export(store, out_dir, stem, options, run_key, summary)
            store.set_run_values({'finished': True})
    return summary


def _outputs_present(out_dir: Path, stem: str, options: SlideOptions) -> bool:
    names = [f'{stem}.summary.json'] + [f'{stem}.{f}' for f in options.formats if f != 'db']
    return all((out_dir / n).is_file() for n in names)


def _run_bands(slide: Slide, path: Path, plan: ResolutionPlan, predictor: TilePredictor,
               tile_size: int, overlap: int, batch_size: int, score_thr: float,
               options: SlideOptions, store: NucleusStore, quickhash: str, progress: bool,
               log: Callable[[str], None], started: float) -> Dict[str, Any]:
    reader = ModelGridReader(slide, plan)
    t_mask = time.perf_counter()
    tissue = _tissue_mask(slide, plan, options, progress)
    t_mask = time.perf_counter() - t_mask
    grid = _grid(reader, plan, tile_size, overlap, options, tissue)
    f = plan.level0_per_model
    shift = _origin(slide, options) - np.array(grid.origin[::-1], float) * f
    stitcher = StreamingStitcher(grid.shape, options.merge_iou)
    done = store.done_bands()
    if done:
        stitcher.load_state(store.pending_state() or b'')
    counters = store.run_value('counters') or {'tiles': 0, 'repaired': 0, 'dropped_empty': 0,
                                               'dropped_below_min_area': 0,
                                               'forward_s': 0.0, 'post_s': 0.0}
    # Bands are committed in order, so the done ones are a prefix.
    next_band = len(done)
    items = [(b, w) for b, windows in enumerate(grid.bands) if b >= next_band for w in windows]
    log(f'{path.name}: {plan.decision}; {grid.kept_tiles} of {grid.total_tiles} tiles hold '
        f'tissue; {len(grid.bands) - next_band} of {len(grid.bands)} bands to do')
    tiles_in = _TileDataset(path, options.backend, plan, items, grid.origin)
    loader = torch.utils.data.DataLoader(tiles_in, batch_sampler=_band_batches(items, batch_size),
                                         collate_fn=list, num_workers=options.workers)
    kill_after = int(os.environ.get(KILL_AFTER_TILES_ENV, '0') or 0)
    bar = Progress(grid.kept_tiles, progress, desc=path.name, unit='tile')
    bar.update(grid.kept_tiles - len(items))
    remaining = [len(windows) for windows in grid.bands]
    run_tiles = 0

    def finish_band(band: int) -> None:
        t0 = time.perf_counter()
        frontier = grid.band_starts[band + 1] if band + 1 < len(grid.band_starts) else None
        rows = []
        for nucleus in stitcher.finalise(frontier):
            if np.count_nonzero(nucleus.mask) < options.min_area:
                counters['dropped_below_min_area'] += 1
                continue
            geometry, repaired = snap_to_qupath_grid(_geometry(nucleus, f, shift))
            counters['repaired'] += int(repaired)
            if geometry is None:
                counters['dropped_empty'] += 1
                continue
            rows.append((geometry, _properties(geometry, nucleus, options, plan.slide_mpp)))
        counters['post_s'] += time.perf_counter() - t0
        store.commit_band(band, rows, quickhash, stitcher.state_bytes(), {'counters': counters})

    def finish_complete_bands() -> None:
        nonlocal next_band
        while next_band < len(grid.bands) and remaining[next_band] == 0:
            finish_band(next_band)
            next_band += 1

    finish_complete_bands()
    for batch in loader:
        t0 = time.perf_counter()
        tiles = [tile for _, tile in batch]
        for tile, found in zip(tiles, predictor(tiles)):
            if not isinstance(found, TileInstances):
                found = TileInstances.from_masks(*found)
            stitcher.add(found.in_image(tile.window, score_thr))
        counters['forward_s'] += time.perf_counter() - t0
        counters['tiles'] += len(tiles)
        run_tiles += len(tiles)
        remaining[batch[0][0]] -= len(tiles)
        finish_complete_bands()
        bar.update(len(tiles), note=f'{store.count()} nuclei')
        if kill_after and run_tiles >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    bar.close()
    tiles_in.close()
    wall = time.perf_counter() - started
    mpp = plan.slide_mpp
    tissue_mm2 = tissue.area_mm2(mpp) if tissue is not None else (
        grid.shape[0] * grid.shape[1] * (f * mpp / 1000) ** 2)
    nuclei = store.count()
    tissue_mpx = (tissue_mm2 * 1e6 / plan.model_mpp ** 2) / 1e6 if tissue_mm2 else None
    return {
        'slide': path.name, 'nuclei': nuclei,
        'tissue_mm2': round(tissue_mm2, 4) if tissue_mm2 is not None else None,
        'nuclei_per_mm2': round(nuclei / tissue_mm2, 2) if tissue_mm2 else None,
        'tiles_total': grid.total_tiles, 'tiles_sent': grid.kept_tiles,
        'tiles_this_run': run_tiles, 'bands': len(grid.bands),
        'mpp': {'slide': mpp, 'source': plan.mpp_source, 'model': plan.model_mpp,
                'level': plan.level, 'resample': plan.resample, 'decision': plan.decision},
        'tissue_source': tissue.source if tissue is not None else 'none',
        'seconds': {'wall': round(wall, 3), 'tissue_mask': round(t_mask, 3),
                    'forward': round(counters['forward_s'], 3),
                    'post': round(counters['post_s'], 3)},
        'tissue_mpx_per_s': round(tissue_mpx / wall, 4) if tissue_mpx else None,
        'peak_rss_mb': round(peak_rss_mb(), 1),
        'polygons_repaired': counters['repaired'], 'polygons_dropped': counters['dropped_empty'],
        'nuclei_below_min_area': counters.get('dropped_below_min_area', 0),
    }


def _export(store: NucleusStore, out_dir: Path, stem: str, options: SlideOptions,
            run_key: Dict[str, Any], summary: Dict[str, Any]) -> None:
    from mmcyclic.utils.atomic import atomic_write_json
    provenance = {'mmcyclic': {k: run_key[k] for k in run_key}}
    for fmt in options.formats:
        if fmt in ('geojson.gz', 'geojson'):
            write_feature_collection(out_dir / f'{stem}.{fmt}', _features(store, options),
                                     provenance)
    atomic_write_json(out_dir / f'{stem}.summary.json', summary, indent=1)
