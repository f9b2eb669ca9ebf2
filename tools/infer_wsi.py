"""Segment every nucleus of whole slides; QuPath-ready .geojson.gz, an SQLite store, summaries.

Example::

    python tools/infer_wsi.py configs/mask_rcnn_r18_synthetic.py work_dirs/demo/epoch_12.pth \\
        slides/ --out results [--slide-mpp 0.25] [--tissue auto] [--region X,Y,W,H]
    tools/dist_infer_wsi.sh CONFIG CHECKPOINT 2 slides/ --out results     # torchrun, 2 processes
    python tools/infer_wsi.py ... --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT

Same flags as tools/infer.py, plus the slide ones (``--help``). Per slide:
``<stem>.geojson.gz`` (QuPath detections), ``<stem>.db`` (TIAToolbox
SQLiteStore schema + run state), ``<stem>.summary.json``; per folder
``summary.csv``. A killed run resumes where it stopped; finished slides are
skipped. See docs/whole_slides.md and :mod:`mmcyclic.wsi.slide_inference`.

Exit status: 0 when every slide was segmented; 1 when some slides failed (each
named); 2 for a bad config, checkpoint or argument, a slide without a usable
mpp, or a partial run made with other inputs (names --overwrite); 3 when --out
cannot be written; 130 when interrupted.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.apis.segmenter import NucleiSegmenter, OutputDirError, check_output_dir
from mmcyclic.utils.atomic import atomic_write_bytes
from mmcyclic.utils.config import ConfigError
from mmcyclic.wsi.resolution import ResolutionError
from mmcyclic.wsi.slide import BACKENDS, SlideReadError
from mmcyclic.wsi.slide_inference import FORMATS, ResumeRefused, SlideOptions, segment_slide
from mmcyclic.wsi.slide_inputs import collect_slides, parse_shard, shard_of

EXIT_INPUTS_FAILED = 1
EXIT_BAD_SETUP = 2
EXIT_OUTPUT_NOT_WRITABLE = 3
EXIT_INTERRUPTED = 130


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment nuclei in whole slides (streamed, '
                                     'resumable, QuPath-ready)')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+', metavar='SLIDE', help='slide files, folders or globs')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--format', default='geojson.gz,db',
                        help=f'comma-separated subset of {",".join(FORMATS)} (db is always '
                        'written: it holds the run state) (default: %(default)s)')
    parser.add_argument('--tile-size', type=int, help='tile side (default: config or 256)')
    parser.add_argument('--overlap', type=int, help='minimum tile overlap, >= the largest '
                        'nucleus (default: config or 64)')
    parser.add_argument('--batch-size', type=int, help='tiles per forward pass')
    parser.add_argument('--score-thr', type=float, help='minimum score (default as tools/infer.py)')
    parser.add_argument('--min-area', type=int,
                        help='drop nuclei of fewer model pixels (default: the config\'s '
                        'inference.min_area, as tools/infer.py)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--model-mpp', type=float, help='µm per pixel of the model '
                        '(default: the config\'s inference.mpp)')
    parser.add_argument('--slide-mpp', type=float, help='µm per level-0 pixel of the slides '
                        '(overrides their metadata)')
    parser.add_argument('--mpp-tolerance', type=float, default=0.10,
                        help='relative mpp difference read as is (default: %(default)s)')
    parser.add_argument('--allow-upsample', action='store_true',
                        help='accept slides coarser than the model (they are enlarged)')
    parser.add_argument('--tissue', default='auto',
                        help='auto (Otsu), none, a mask picture, or a QuPath GeoJSON of regions')
    parser.add_argument('--roi-class', action='append', default=[],
                        help='with --tissue GEOJSON: the classes that count (repeatable)')
    parser.add_argument('--min-tissue-fraction', type=float, default=0.05,
                        help='tiles with less tissue are skipped (default: %(default)s)')
    parser.add_argument('--region', help='X,Y,W,H in level-0 pixels: only this part')
    parser.add_argument('--coordinates', choices=['qupath', 'slide'], default='qupath',
                        help='qupath: minus the slide bounds origin, as QuPath shows '
                        'OpenSlide images (default); slide: file pixels')
    parser.add_argument('--class-name', default='Nucleus', help='QuPath class of the detections')
    parser.add_argument('--backend', choices=BACKENDS, default='auto')
    parser.add_argument('--workers', type=int, default=0, help='tile-reading processes')
    parser.add_argument('--shard', help='I/N: only share I of N of the slides (job arrays)')
    parser.add_argument('--overwrite', action='store_true',
                        help='start slides again even if a partial or finished run exists')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: under torchrun, one share of the slides per process')
    args = parser.parse_args(argv)
    args.format = tuple(f.strip() for f in args.format.split(',') if f.strip())
    if sorted(set(args.format) - set(FORMATS)):
        parser.error(f'--format: choose from {",".join(FORMATS)}')
    if args.region:
        try:
            args.region = tuple(int(v) for v in args.region.split(','))
            assert len(args.region) == 4 and args.region[2] > 0 and args.region[3] > 0
        except (ValueError, AssertionError):
            parser.error('--region must be X,Y,W,H (level-0 pixels, W and H positive)')
    return args


def sha256_of(path: str) -> str:
    """SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def write_summary_csv(out_dir: Path) -> Path:
    """``summary.csv``: one row per ``*.summary.json`` in ``out_dir``."""
    rows = []
    for path in sorted(out_dir.glob('*.summary.json')):
        s = json.loads(path.read_text())
        rows.append([s['slide'], s['nuclei'], s['tissue_mm2'], s['nuclei_per_mm2'],
                     s['tiles_sent'], s['tiles_total'], s['mpp']['slide'], s['mpp']['source'],
                     s['mpp']['decision'], s['seconds']['wall'], s['tissue_mpx_per_s'],
                     s['peak_rss_mb']])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(['slide', 'nuclei', 'tissue_mm2', 'nuclei_per_mm2', 'tiles_sent',
                     'tiles_total', 'slide_mpp', 'mpp_source', 'mpp_decision', 'wall_s',
                     'tissue_mpx_per_s', 'peak_rss_mb'])
    writer.writerows(rows)
    target = out_dir / 'summary.csv'
    atomic_write_bytes(target, buffer.getvalue().encode())
    return target


def _distributed(args: argparse.Namespace):
    """``(rank, world)`` and, under torchrun, an initialised gloo group for the final barrier."""
    if args.launcher != 'pytorch' or int(os.environ.get('WORLD_SIZE', '1')) == 1:
        return 0, 1
    import torch.distributed as dist
    dist.init_process_group('gloo')
    return dist.get_rank(), dist.get_world_size()


def main(argv: Optional[List[str]] = None) -> int:
    """Segment the slides; return the exit status (module docstring)."""
    args = parse_args(argv)
    rank, world = _distributed(args)
    try:
        out_dir = check_output_dir(args.out)
    except OutputDirError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return EXIT_OUTPUT_NOT_WRITABLE
    device = args.device
    if world > 1 and device.startswith('cuda') and ':' not in device:
        device = f'cuda:{os.environ.get("LOCAL_RANK", rank)}'
    try:
        segmenter = NucleiSegmenter(args.config, args.checkpoint, device=device,
                                    tile_size=args.tile_size, overlap=args.overlap,
                                    batch_size=args.batch_size, score_thr=args.score_thr,
                                    min_area=args.min_area)
        model_mpp = args.model_mpp or segmenter.settings.mpp
        if not model_mpp:
            raise ValueError(f'{args.config}: the model\'s mpp is unknown; set inference.mpp in '
                             'the config or pass --model-mpp (µm per pixel of its training images)')
        options = SlideOptions(model_mpp, args.slide_mpp, args.mpp_tolerance, args.allow_upsample,
                               args.tissue, tuple(args.roi_class), args.min_tissue_fraction,
                               region=args.region, coordinates=args.coordinates,
                               class_name=args.class_name, backend=args.backend,
                               workers=args.workers, formats=args.format,
                               overwrite=args.overwrite, min_area=segmenter.settings.min_area)
        shard = parse_shard(args.shard) if args.shard else (rank, world)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return EXIT_BAD_SETUP
    identity = {'config_sha256': sha256_of(args.config),
                'checkpoint_sha256': sha256_of(args.checkpoint)}
    slides, problems = collect_slides(args.inputs)
    failures = [(name, reason, EXIT_INPUTS_FAILED) for name, reason in problems]
    stems = {}
    s = segmenter.settings
    try:
        for path in shard_of(slides, *shard):
            stem = path.name.split('.')[0]
            if stems.setdefault(stem, path) != path:
                failures.append((str(path), f'same name as {stems[stem]}', EXIT_INPUTS_FAILED))
                continue
            try:
                summary = segment_slide(path, segmenter.predict_tiles, s.tile_size, s.overlap,
                                        s.batch_size, s.score_thr, options, out_dir, identity,
                                        progress=not args.no_progress and rank == 0)
                print(f"{path.name}: {summary['nuclei']} nuclei, "
                      f"{summary['tiles_sent']}/{summary['tiles_total']} tiles, "
                      f"{summary['seconds']['wall']} s")
            except (ResolutionError, ResumeRefused) as error:
                failures.append((str(path), str(error), EXIT_BAD_SETUP))
            except (SlideReadError, OSError, RuntimeError, ValueError) as error:
                failures.append((str(path), f'{type(error).__name__}: {error}', EXIT_INPUTS_FAILED))
    except KeyboardInterrupt:
        print('Interrupted: finished slides are complete; rerun to resume the others.',
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
    if rank == 0:
        write_summary_csv(out_dir)
    for name, reason, _ in failures:
        print(f'FAILED {name}: {reason}', file=sys.stderr)
    return max((code for *_, code in failures), default=0)


if __name__ == '__main__':
    sys.exit(main())
