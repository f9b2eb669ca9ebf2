"""Write converted images and label maps in the layout of ``docs/data_format.md``.

Every converter produces :class:`Sample` objects (an id, a split and a loader
that reads the image and its label map) and hands them to
:func:`write_dataset`, which writes, under ``out_dir``:

* ``images/<id>.png`` and ``labels/<id>.png`` (``.tif`` when ids > 65535);
* ``patches/<id>_p<k>.png`` on the grid of :func:`mmcyclic.datasets.patches.patch_origins`;
* ``annotations/instances_<split>.json`` (patches) and ``instances_<split>_full.json``;
* ``splits.json`` and ``conversion_log.json``.

Failures of one image never stop the run: a loader that raises
:class:`~mmcyclic.datasets.io.ImageReadError` (unreadable/truncated file) or
:class:`ConversionError` (malformed annotation, size mismatch, ...) is
reported by file name, counted under its reason and skipped. Images whose
label map is empty are kept (negatives / test images) and counted.
"""
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from skimage.segmentation import relabel_sequential

from mmcyclic.datasets.coco_format import label_map_to_annotations, make_coco, write_coco
from mmcyclic.datasets.io import ImageReadError, write_image, write_label_map
from mmcyclic.datasets.patches import crop_patch, patch_origins
from mmcyclic.utils.atomic import atomic_write_json
from mmcyclic.utils.progress import Progress

from .splits import SPLITS

PathLike = Union[str, os.PathLike]
logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
OUTPUT_DIRS = ('images', 'labels', 'patches', 'annotations')
_SAFE_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


class ConversionError(ValueError):
    """One source image cannot be converted; the message names the file.

    Attributes:
        reason: Short machine-readable reason used to count skips in
            ``conversion_log.json`` (e.g. ``'malformed_annotation'``).
    """

    def __init__(self, message: str, reason: str = 'conversion_error') -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Loaded:
    """What a :class:`Sample` loader returns.

    Attributes:
        image: ``H x W x 3`` uint8 RGB.
        label_map: ``H x W`` integer instance label map (0 = background).
        counts: Converter counts for the log, e.g. ``{'skipped_too_few_points': 1}``.
            Keys starting with ``skipped_`` are instances the converter dropped.
        messages: Human-readable notes for the log (one per problem).
    """

    image: np.ndarray
    label_map: np.ndarray
    counts: Dict[str, int] = field(default_factory=dict)
    messages: List[str] = field(default_factory=list)


@dataclass
class Sample:
    """One source image to convert.

    Attributes:
        id: Output id (file stem); letters, digits, ``.``, ``_``, ``-``.
        split: ``'train'``, ``'val'``, ``'test'`` (or another lowercase name).
        load: Reads the files; may raise ``ImageReadError``/``ConversionError``.
        source: The source file(s), for the log.
    """

    id: str
    split: str
    load: Callable[[], Loaded]
    source: str = ''

    @classmethod
    def from_arrays(cls, id: str, image: np.ndarray, label_map: np.ndarray, split: str,
                    counts: Optional[Dict[str, int]] = None, source: str = '') -> 'Sample':
        """A sample whose arrays are already in memory."""
        loaded = Loaded(image, label_map, dict(counts or {}))
        return cls(id, split, lambda: loaded, source)


@dataclass
class Skip:
    """A source item a converter rejected before loading (e.g. an unmatched file)."""

    id: str
    reason: str
    message: str
    split: Optional[str] = None


SampleLike = Union[Sample, Skip, Tuple[str, np.ndarray, np.ndarray, str]]


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    existing = [d for d in OUTPUT_DIRS if (out_dir / d).is_dir() and any((out_dir / d).iterdir())]
    if (out_dir / 'conversion_log.json').exists():
        existing.append('conversion_log.json')
    if existing and not overwrite:
        raise FileExistsError(f'{out_dir} already holds converter output ({", ".join(existing)}); '
                              'pass overwrite=True (--overwrite) to replace it')


def _move_into_place(stage: Path, out_dir: Path) -> None:
    """Replace the converter output in ``out_dir`` by the one written in ``stage``.

    Folder by folder (each an atomic rename on one file system), the earlier
    output moved aside first and deleted at the end; ``conversion_log.json``,
    the mark of a finished conversion, comes last.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    replaced = stage / '.replaced'
    replaced.mkdir()
    for name in (*OUTPUT_DIRS, 'splits.json', 'conversion_log.json'):
        if (out_dir / name).exists():
            os.replace(out_dir / name, replaced / name)
        if (stage / name).exists():
            os.replace(stage / name, out_dir / name)


def _as_sample(item: SampleLike) -> Union[Sample, Skip]:
    if isinstance(item, (Sample, Skip)):
        return item
    if isinstance(item, tuple) and len(item) == 4:
        sample_id, image, label_map, split = item
        return Sample.from_arrays(sample_id, image, label_map, split)
    raise TypeError(f'expected Sample, Skip or (id, image, label_map, split), got {type(item)}')


def _validate(loaded: Loaded, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
    image, label_map = np.asarray(loaded.image), np.asarray(loaded.label_map)
    where = sample.source or sample.id
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ConversionError(f'{where}: expected an HxWx3 uint8 image, got '
                              f'{image.shape} {image.dtype}', 'bad_image')
    if label_map.shape != image.shape[:2]:
        raise ConversionError(f'{where}: label map shape {label_map.shape} differs from '
                              f'image shape {image.shape[:2]}', 'shape_mismatch')
    if not (np.issubdtype(label_map.dtype, np.integer) or label_map.dtype == bool):
        raise ConversionError(f'{where}: label map dtype {label_map.dtype} is not integer',
                              'bad_label_map')
    if label_map.size and label_map.min() < 0:
        raise ConversionError(f'{where}: label map has negative ids', 'bad_label_map')
    return image, label_map.astype(np.int64)


class _Writer:
    """State of one :func:`write_dataset` run (COCO lists, counters, log)."""

    def __init__(self, out_dir: Path, patch_size: int, min_area: int,
                 splits: Sequence[str]) -> None:
        self.out_dir = out_dir
        self.patch_size = patch_size
        self.min_area = min_area
        self.coco: Dict[Tuple[str, str], Dict[str, list]] = {}
        for split in splits:
            self._coco(split, 'patch')
            self._coco(split, 'full')
        self.next_image_id = {'patch': 1, 'full': 1}
        self.next_ann_id = {'patch': 1, 'full': 1}
        self.split_ids: Dict[str, List[str]] = {s: [] for s in splits}

    def _coco(self, split: str, level: str) -> Dict[str, list]:
        return self.coco.setdefault((split, level), {'images': [], 'annotations': []})

    def _write(self, rel: str, writer: Callable, array: np.ndarray) -> None:
        writer(self.out_dir / rel, array)

    def _add(self, level: str, split: str, record: Dict[str, Any],
             label_map: np.ndarray) -> int:
        image_id = self.next_image_id[level]
        self.next_image_id[level] += 1
        anns = label_map_to_annotations(label_map, image_id, self.next_ann_id[level],
                                        self.min_area)
        self.next_ann_id[level] += len(anns)
        coco = self._coco(split, level)
        coco['images'].append({'id': image_id, **record})
        coco['annotations'].extend(anns)
        return len(anns)

    def add(self, sample: Sample, image: np.ndarray, label_map: np.ndarray) -> Dict[str, Any]:
        """Write one image, its label map and patches; return its log entry."""
        height, width = label_map.shape
        areas = np.bincount(label_map.ravel())
        small = np.flatnonzero((areas > 0) & (areas < self.min_area))
        small = small[small > 0]
        if small.size:
            label_map = np.where(np.isin(label_map, small), 0, label_map)
        # Ids 1..n in the order of the source ids, so they fit a 16-bit PNG.
        label_map = relabel_sequential(label_map)[0]
        num_instances = int(label_map.max(initial=0))
        label_rel = f'labels/{sample.id}.{"png" if num_instances <= 65535 else "tif"}'
        self._write(f'images/{sample.id}.png', write_image, image)
        self._write(label_rel, write_label_map, label_map)
        common = {'source_id': sample.id, 'source_shape': [height, width], 'label_map': label_rel}
        written = self._add('full', sample.split, {
            'file_name': f'images/{sample.id}.png', 'height': height, 'width': width,
            'patch_origin': [0, 0], **common}, label_map)
        patch_instances = 0
        origins = patch_origins(height, width, self.patch_size)
        for k, (x0, y0) in enumerate(origins):
            patch_rel = f'patches/{sample.id}_p{k}.png'
            patch_image = crop_patch(image, (x0, y0), self.patch_size)
            self._write(patch_rel, write_image, patch_image)
            patch_instances += self._add('patch', sample.split, {
                'file_name': patch_rel, 'height': patch_image.shape[0],
                'width': patch_image.shape[1], 'patch_origin': [x0, y0], 'patch_index': k,
                **common}, crop_patch(label_map, (x0, y0), self.patch_size))
        self.split_ids.setdefault(sample.split, []).append(sample.id)
        return {'instances': written, 'removed_below_min_area': int(small.size),
                'patches': len(origins), 'patch_instances': patch_instances,
                'height': height, 'width': width}

    def finish(self, name: str) -> Dict[str, int]:
        """Write the COCO files; return the number of images per split."""
        sizes = {}

        def order(key: Tuple[str, str]) -> Tuple[int, str, str]:
            split, level = key
            return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split, level)

        for (split, level), coco in sorted(self.coco.items(), key=lambda kv: order(kv[0])):
            suffix = '' if level == 'patch' else '_full'
            path = self.out_dir / 'annotations' / f'instances_{split}{suffix}.json'
            info = {'description': f'{name}: {split} split, '
                                   f'{"patches" if level == "patch" else "full images"}',
                    'format_version': FORMAT_VERSION, 'patch_size': self.patch_size}
            write_coco(path, make_coco(coco['images'], coco['annotations'], info))
            if level == 'full':
                sizes[split] = len(coco['images'])
        return sizes


def _sum_counts(entries: Iterable[Dict[str, Any]]) -> Dict[str, int]:
    total: Counter = Counter()
    for entry in entries:
        total.update({k: int(v) for k, v in entry.get('counts', {}).items()})
    return dict(sorted(total.items()))


def _precheck(sample: Union[Sample, Skip],
              entries: Dict[str, Dict[str, Any]]) -> Optional[Tuple[str, str]]:
    """``(reason, message)`` when a sample must be skipped before loading it."""
    where = getattr(sample, 'source', '') or sample.id
    if isinstance(sample, Skip):
        return sample.reason, sample.message
    if not _SAFE_ID.match(sample.id):
        return 'bad_id', (f'{sample.id!r}: ids must be usable as file names '
                          '(letters, digits, ".", "_", "-")')
    if sample.id in entries and entries[sample.id].get('status') != 'skipped':
        return 'duplicate_id', (f'{where}: id {sample.id!r} was already written from '
                                f'{entries[sample.id]["source"]}')
    if not re.match(r'^[a-z][a-z0-9_]*$', str(sample.split)):
        return 'bad_split', f'{where}: invalid split {sample.split!r}'
    return None


def _convert_one(sample: Union[Sample, Skip], entries: Dict[str, Dict[str, Any]],
                 writer: _Writer) -> Dict[str, Any]:
    """Load and write one sample; return its log entry (errors become a skip)."""
    entry: Dict[str, Any] = {'split': sample.split, 'source': getattr(sample, 'source', '')}
    problem = _precheck(sample, entries)
    if problem is None:
        try:
            loaded = sample.load()
            image, label_map = _validate(loaded, sample)
        except (ImageReadError, ConversionError) as error:
            problem = getattr(error, 'reason', 'unreadable'), str(error)
    if problem is not None:
        entry.update(status='skipped', reason=problem[0], message=problem[1])
        return entry
    entry.update(status='written', counts=dict(loaded.counts), messages=list(loaded.messages))
    entry.update(writer.add(sample, image, label_map))
    for message in loaded.messages:
        logger.info('%s', message)
    if entry['instances'] == 0:
        entry['messages'].append('no annotated nucleus: kept as an image without instances '
                                 '(negative / test image)')
        logger.warning('%s: no annotated nucleus; kept as an image without instances',
                       sample.source or sample.id)
    return entry


def write_dataset(samples: Iterable[SampleLike],
                  out_dir: PathLike,
                  name: str,
                  patch_size: int = 256,
                  min_area: int = 1,
                  split_info: Optional[Dict[str, Any]] = None,
                  source: str = '',
                  overwrite: bool = False,
                  progress: bool = True) -> Dict[str, Any]:
    """Convert and write a whole dataset; one bad image never stops the run.

    Args:
        samples: :class:`Sample`/:class:`Skip` objects or ``(id, image,
            label_map, split)`` tuples, in output order.
        out_dir: ``data/<name>``; created if needed.
        name: Dataset name for the log and the COCO ``info``.
        patch_size: Side of the square patches (see :mod:`mmcyclic.datasets.patches`).
        min_area: Instances with fewer pixels are removed from the label map
            and the COCO files (counted as ``removed_below_min_area``); patch
            annotations use the same threshold on the visible part.
        split_info: Extra keys for ``splits.json`` (``seed``, how val was chosen, ...).
        source: Where the data came from, for the log.
        overwrite: Replace an earlier conversion in ``out_dir`` (its
            ``images/``, ``labels/``, ``patches/``, ``annotations/`` and json files
            are replaced as a whole). Without it an existing conversion raises
            ``FileExistsError``.
        progress: Show a progress bar (:class:`~mmcyclic.utils.progress.Progress`).

    Returns:
        The ``conversion_log.json`` content; ``log['summary']`` holds the totals.
        When no image was converted (``images_written`` 0), nothing is written
        to ``out_dir`` (the log is only returned).
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    # Everything is written into a temporary sibling folder and moved into place at the end,
    # so a run that converts no image (or is killed) leaves out_dir as it was.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.converting-', dir=out_dir.parent))
    try:
        log = _write_all(samples, stage, name, patch_size, min_area, split_info, source,
                         progress)
        if log['summary']['images_written']:
            _move_into_place(stage, out_dir)
        else:
            logger.warning('no image was converted: nothing written to %s', out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return log


def _write_all(samples: Iterable[SampleLike], out_dir: Path, name: str, patch_size: int,
               min_area: int, split_info: Optional[Dict[str, Any]], source: str,
               progress: bool) -> Dict[str, Any]:
    """Convert every sample into ``out_dir``; return the conversion log (also written there)."""
    items = list(samples) if not isinstance(samples, Sequence) else samples
    writer = _Writer(out_dir, patch_size, min_area, SPLITS)
    entries: Dict[str, Dict[str, Any]] = {}
    skipped: Dict[str, str] = {}
    no_annotation: List[str] = []
    bar = Progress(len(items), progress, desc=name, unit='image')
    for item in items:
        sample = _as_sample(item)
        entry = _convert_one(sample, entries, writer)
        if entry['status'] == 'written' and entry['instances'] == 0:
            no_annotation.append(sample.id)
        # A repeated id is logged under "<id>#<n>" so that no entry is lost.
        key = sample.id if sample.id not in entries else f'{sample.id}#{len(entries)}'
        if entry['status'] == 'skipped':
            skipped[key] = entry['reason']
            logger.warning('skipped %s (%s): %s', sample.id, entry['reason'], entry['message'])
        entries[key] = entry
        bar.update()
    bar.close()
    images_per_split = writer.finish(name)
    written_entries = [e for e in entries.values() if e['status'] == 'written']
    summary = {
        'images_written': len(written_entries),
        'images_per_split': images_per_split,
        'images_skipped': len(skipped),
        'image_skips_by_reason': dict(sorted(Counter(skipped.values()).items())),
        'images_without_annotation': len(no_annotation),
        'instances': sum(e['instances'] for e in written_entries),
        'removed_below_min_area': sum(e['removed_below_min_area'] for e in written_entries),
        'patches': sum(e['patches'] for e in written_entries),
        'patch_instances': sum(e['patch_instances'] for e in written_entries),
        'converter_counts': _sum_counts(written_entries),
    }
    splits_json = {split: list(ids) for split, ids in writer.split_ids.items()}
    splits_json.setdefault('seed', None)
    splits_json.update(split_info or {})
    splits_json['skipped'] = skipped
    atomic_write_json(out_dir / 'splits.json', splits_json, indent=1)
    log = {
        'dataset': name, 'source': source, 'format_version': FORMAT_VERSION,
        'patch_size': patch_size, 'min_area': min_area, 'summary': summary,
        'skipped': skipped, 'images_without_annotation': no_annotation, 'images': entries,
    }
    atomic_write_json(out_dir / 'conversion_log.json', log, indent=1)
    return log


def format_summary(log: Dict[str, Any]) -> str:
    """A short human-readable summary of a conversion log (what the tools print)."""
    s = log['summary']
    lines = [f'{log["dataset"]}: {s["images_written"]} image(s) written '
             f'({", ".join(f"{k} {v}" for k, v in s["images_per_split"].items())}), '
             f'{s["instances"]} instances, {s["patches"]} patches with '
             f'{s["patch_instances"]} patch instances.']
    if s['images_without_annotation']:
        lines.append(f'  images without any nucleus (kept): {s["images_without_annotation"]} '
                     f'({", ".join(log["images_without_annotation"])})')
    if s['images_skipped']:
        lines.append(f'  images skipped: {s["images_skipped"]} by reason '
                     f'{s["image_skips_by_reason"]}')
        for sample_id, reason in log['skipped'].items():
            message = log['images'].get(sample_id, {}).get('message', '')
            lines.append(f'    {sample_id}: {reason}' + (f' - {message}' if message else ''))
    if s['removed_below_min_area']:
        lines.append(f'  instances removed below min_area={log["min_area"]}: '
                     f'{s["removed_below_min_area"]}')
    counts = s['converter_counts']
    skips = {k: v for k, v in counts.items() if k.startswith('skipped_') and v}
    other = {k: v for k, v in counts.items() if not k.startswith('skipped_') and v}
    lines.append(f'  instances skipped by reason: {skips or "none"}')
    if other:
        lines.append(f'  other counts: {other}')
    return '\n'.join(lines)
