"""Whole slides: model throughput F vs whole-command throughput W, memory from 4k² to 16k², tiles.

1. **Throughput** per model of :data:`MODELS` (random weights: trained weights are not in the
   repository; an untrained model finds other numbers of nuclei, so its post-processing share
   is indicative): a ``--size``² synthetic slide with ``--tissue`` of it tissue
   (:mod:`mmcyclic.wsi.synthetic_slide`, JPEG, 0.25 µm/px).
   *F*: :meth:`NucleiSegmenter.predict_tiles` on in-memory batches of the slide's tissue
   tiles (same tile size and batch), tile Mpx per second. *W*: the whole
   :func:`~mmcyclic.wsi.slide_inference.segment_slide` (tissue mask, reading, forward, streamed
   stitching, polygons, SQLite, GeoJSON.gz; model loading excluded), tissue Mpx at the model mpp
   per second. *k*: tile pixels of the full grid / slide pixels. Target: W ≥ 0.8 F / k.
2. **Memory**: a ``--size``² and a ``--big``² slide (same tissue fraction and nucleus density)
   through ``segment_slide`` with a fast content-based detector (dark-pixel components; no
   model), each in a fresh process: peak RSS and the peak of memory allocated through Python
   (tracemalloc: numpy arrays included). Targets: RSS ratio ≤ 1.25; no array above 64 MB (the
   tracemalloc peak, all arrays together, bounds any single one).
3. **Tiles sent** to the model on the big slide vs its full tile grid (target ≤ 0.35 for 30 %).

    python benchmarks/bench_wsi.py [--size 4096] [--big 16384] [--tissue 0.3] [--no-doc]

Prints a markdown report and replaces the ``## Whole slides`` section of docs/benchmarks.md.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mmcyclic  # noqa: E402,F401

from benchdoc import cpu_name, publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOVERNET_R18 = """_base_ = ['{root}/configs/_base_/models/hovernet_r18.py',
             '{root}/configs/_base_/datasets/synthetic.py',
             '{root}/configs/_base_/default_runtime.py']
"""
MODELS = {'Mask R-CNN R18': ROOT / 'configs' / 'mask_rcnn_r18_synthetic.py',
          'HoVer-Net R18': None}  # None: HOVERNET_R18 written to a temporary file
IDENTITY = {'config_sha256': 'bench', 'checkpoint_sha256': 'random'}


def dark_blob_detector(tiles):
    """A fast stand-in for a model: 8-connected components of dark (hematoxylin) pixels."""
    from mmcyclic.apis.tiled_inference import TileInstances
    out = []
    for tile in tiles:
        grey = tile.image.mean(axis=2)
        labels, count = ndimage.label(grey < 120, structure=np.ones((3, 3), bool))
        crops, origins, scores = [], [], []
        for index, box in enumerate(ndimage.find_objects(labels), 1):
            crop = labels[box] == index
            if crop.sum() >= 15:
                crops.append(crop)
                origins.append((box[0].start, box[1].start))
                scores.append(0.9)
        out.append(TileInstances(crops, np.array(origins, np.int64).reshape(-1, 2),
                                 np.array(scores)))
    return out


def make_slide(path: Path, size: int, tissue: float) -> Path:
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide, write_synthetic_slide
    slide = SyntheticSlide(size, size, block=512, distinct=4, seed=0, tissue_fraction=tissue)
    return write_synthetic_slide(path, slide, 'svs', 0.25, compression='jpeg')


def overlap_factor(shape, tile_size: int, overlap: int) -> float:
    from mmcyclic.apis.tiled_inference import tile_windows
    windows = tile_windows(*shape, tile_size, overlap)
    return sum((y1 - y0) * (x1 - x0) for y0, x0, y1, x1 in windows) / (shape[0] * shape[1])


def throughput_rows(slide_path: Path, work: Path, size: int) -> List[str]:
    from mmcyclic.apis import NucleiSegmenter
    from mmcyclic.apis.tiled_inference import Tile, tile_windows
    from mmcyclic.wsi.resolution import ModelGridReader, plan_resolution
    from mmcyclic.wsi.slide import open_slide
    from mmcyclic.wsi.slide_inference import SlideOptions, segment_slide
    rows = []
    for name, config in MODELS.items():
        if config is None:
            config = work / 'hovernet_r18.py'
            config.write_text(HOVERNET_R18.format(root=ROOT))
        segmenter = NucleiSegmenter(str(config), score_thr=0.5)
        s = segmenter.settings
        t0 = time.perf_counter()
        summary = segment_slide(slide_path, segmenter.predict_tiles, s.tile_size, s.overlap,
                                s.batch_size, s.score_thr, SlideOptions(0.25, overwrite=True),
                                work / name.replace(' ', '_'), IDENTITY, progress=False,
                                log=lambda m: None)
        wall = time.perf_counter() - t0
        # F: the same tile size and batch, tiles read beforehand.
        with open_slide(slide_path) as slide:
            reader = ModelGridReader(slide, plan_resolution(slide, 0.25))
            windows = tile_windows(*reader.shape, s.tile_size, s.overlap)
            centre = [w for w in windows
                      if abs(w[0] - size / 2) < s.tile_size * 2][:4 * s.batch_size]
            tiles = [Tile(reader.read(w), w) for w in centre]
            side = centre[0][2] - centre[0][0]
        segmenter.predict_tiles(tiles[:s.batch_size])  # warm-up
        t1 = time.perf_counter()
        for start in range(0, len(tiles), s.batch_size):
            segmenter.predict_tiles(tiles[start:start + s.batch_size])
        forward = time.perf_counter() - t1
        f = sum(t.image.shape[0] * t.image.shape[1] for t in tiles) / 1e6 / forward
        k = overlap_factor(reader.shape, s.tile_size, s.overlap)
        tissue_mpx = summary['tissue_mm2'] / (0.25e-3) ** 2 / 1e6
        w = tissue_mpx / wall
        sec = summary['seconds']
        rows.append(f'| {name} | {s.tile_size} ({side} fitted) / {s.overlap} / {s.batch_size} | '
                    f'{f:.3f} | {k:.2f} | {f / k:.3f} | {w:.3f} | {w / (f / k):.2f} | '
                    f"{summary['tiles_sent']} | {summary['nuclei']} | {sec['forward']:.1f} / "
                    f"{sec['post']:.1f} / {sec['tissue_mask']:.2f} / {wall:.1f} |")
    return rows


def memory_child(slide_path: str, out: str) -> None:
    """Run one slide with the dark-blob detector; print memory figures (JSON).

    ``rss_mb``: the peak resident memory while the slide ran (``segment_slide`` resets the
    peak when it starts), including what the process held before (imports of torch, mmcv,
    mmdet: ``rss_before_mb``). ``traced_peak_mb``: the peak of memory allocated through
    Python during the run (tracemalloc; numpy arrays included)."""
    import tracemalloc

    from mmcyclic.wsi.slide_inference import (SlideOptions, peak_rss_mb, reset_peak_rss,
                                              segment_slide)
    reset_peak_rss()
    before = peak_rss_mb()
    tracemalloc.start()
    summary = segment_slide(slide_path, dark_blob_detector, 256, 64, 8, 0.5,
                            SlideOptions(0.25, overwrite=True), out, IDENTITY, progress=False,
                            log=lambda m: None)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps({'rss_mb': peak_rss_mb(), 'rss_before_mb': before, 'traced_peak_mb': peak,
                      'tiles_sent': summary['tiles_sent'], 'tiles_total': summary['tiles_total'],
                      'nuclei': summary['nuclei'], 'wall': summary['seconds']['wall']}))


def memory_rows(paths: Dict[int, Path], work: Path) -> List[str]:
    rows, results = [], {}
    for size, path in paths.items():
        done = subprocess.run([sys.executable, __file__, '--memory-child', str(path),
                               str(work / f'mem{size}')], capture_output=True, text=True,
                              check=True)
        results[size] = json.loads(done.stdout.strip().splitlines()[-1])
    small, big = sorted(results)
    for size in (small, big):
        r = results[size]
        rows.append(f"| {size}² | {r['nuclei']} | {r['tiles_sent']} / {r['tiles_total']} "
                    f"({r['tiles_sent'] / r['tiles_total']:.2f}) | {r['rss_mb']:.0f} "
                    f"(+{r['rss_mb'] - r['rss_before_mb']:.0f}) | {r['traced_peak_mb']:.1f} | "
                    f"{r['wall']:.0f} |")
    ratio = results[big]['rss_mb'] / results[small]['rss_mb']
    return rows, ratio, results[big]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=4096)
    parser.add_argument('--big', type=int, default=16384)
    parser.add_argument('--tissue', type=float, default=0.3)
    parser.add_argument('--no-doc', action='store_true')
    parser.add_argument('--memory-child', nargs=2, metavar=('SLIDE', 'OUT'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix='bench-wsi-') as tmp:
        work = Path(tmp)
        paths = {size: make_slide(work / f's{size}.svs', size, args.tissue)
                 for size in (args.size, args.big)}
        throughput = throughput_rows(paths[args.size], work, args.size)
        memory, ratio, big = memory_rows(paths, work)
    report = '\n'.join([
        f'`python benchmarks/bench_wsi.py --size {args.size} --big {args.big} --tissue '
        f'{args.tissue}` at commit {commit}, {cpu_name()}; synthetic SVS-like slides '
        f'(JPEG, 0.25 µm/px, {args.tissue:.0%} tissue), random weights.', '',
        '| model | tile / overlap / batch | F (tile Mpx/s) | k | F/k | W (tissue Mpx/s) | '
        'W/(F/k) (target ≥ 0.8) | tiles sent | nuclei | s forward / post / tissue / wall |',
        '|---|---|---|---|---|---|---|---|---|---|', *throughput, '',
        'Memory and tiles, dark-blob stand-in detector (tile 256, overlap 64, batch 8):', '',
        '| slide | nuclei | tiles sent / grid | peak RSS MB (+ over the imports) | '
        'tracemalloc peak MB | wall s |',
        '|---|---|---|---|---|---|', *memory, '',
        f'Peak-RSS ratio {args.big}² / {args.size}²: **{ratio:.2f}** (target ≤ 1.25); '
        f"tracemalloc peak of the big slide {big['traced_peak_mb']:.1f} MB (target: no array "
        f"above 64 MB); tiles sent {big['tiles_sent'] / big['tiles_total']:.2f} of the grid "
        f'(target ≤ 0.35 at 30 % tissue).'])
    publish('Whole slides', report, not args.no_doc)


if __name__ == '__main__':
    main()
