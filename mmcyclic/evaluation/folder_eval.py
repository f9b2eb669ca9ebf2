"""Score a folder of predicted label maps against a folder of ground truth.

Files are matched by stem (``img1.png`` in one folder with ``img1.tif`` or
``img1.npy`` in the other). The output folder of ``tools/infer.py`` is read as
it is: a prediction ``<stem>_labels.<ext>`` is matched to the ground truth
``<stem>`` (unless a ground-truth file is itself named ``<stem>_labels``), and
infer's ``<stem>_overlay.png`` pictures next to them are ignored (its GeoJSON
and COCO files do not have label-map suffixes). Every problem is reported by
name instead of stopping the run: stems present on one side only, files that
cannot be read, and pairs the metrics reject (e.g. different shapes).
``tools/eval_nuclei.py`` is the command-line front end.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set, Union

import numpy as np

from mmcyclic.datasets.io import LABEL_SUFFIXES, read_label_map
from mmcyclic.utils.atomic import atomic_write_bytes
from mmcyclic.utils.progress import Progress

from .functional import _relabel, legacy_paper_metrics, nuclei_metrics

PathLike = Union[str, os.PathLike]
INFER_LABELS_TAG = '_labels'  # tools/infer.py writes <stem>_labels.<ext> ...
INFER_OVERLAY_TAG = '_overlay'  # ... and <stem>_overlay.png
METRIC_KEYS = ('pixel_dice', 'aji', 'aji_plus', 'dq', 'sq', 'pq', 'object_dice', 'object_hausdorff')


@dataclass
class FolderEvalResult:
    """Outcome of :func:`evaluate_folders`.

    Attributes:
        rows: One dict per scored image: ``image`` (stem), ``n_gt``, ``n_pred``,
            the metrics of :func:`nuclei_metrics` and, with ``legacy``, the
            :func:`legacy_paper_metrics` values prefixed ``legacy/``.
        summary: Mean over images of every numeric column (NaNs skipped), plus
            dataset aggregates: ``dice_aggregate`` (ΣI/ΣU) and, with
            ``legacy``, ``legacy/dice_aggregate`` and ``legacy/obj_f1_aggregate``
            (F1 of the summed TP/FP/FN, the authors' "objF1").
        nan_skipped: Per column, how many images had NaN (left out of the mean).
        missing_pred: GT stems without a prediction file.
        missing_gt: Prediction stems without a GT file.
        failed: Stem -> reason, for files that could not be read or scored.
        num_gt_files: Label-map files found in the ground-truth folder.
        num_pred_files: Label-map files found in the prediction folder
            (without ``tools/infer.py``'s overlay pictures).
    """

    rows: List[Dict[str, Union[str, float]]] = field(default_factory=list)
    summary: Dict[str, float] = field(default_factory=dict)
    nan_skipped: Dict[str, int] = field(default_factory=dict)
    missing_pred: List[str] = field(default_factory=list)
    missing_gt: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)
    num_gt_files: int = 0
    num_pred_files: int = 0

    @property
    def num_problems(self) -> int:
        """Missing stems on either side plus failed images."""
        return len(self.missing_pred) + len(self.missing_gt) + len(self.failed)

    def why_nothing_scored(self, gt_dir: PathLike, pred_dir: PathLike) -> str:
        """Why no image was scored, for the error message ('' when some were).

        Args:
            gt_dir: The ground-truth folder (for the message).
            pred_dir: The prediction folder (for the message).
        """
        if self.rows:
            return ''
        suffixes = ' '.join(LABEL_SUFFIXES)
        if not self.num_gt_files:
            return f'{gt_dir}: no ground-truth label maps ({suffixes}) in this folder'
        if not self.num_pred_files:
            return (f'{pred_dir}: no predicted label maps ({suffixes}) in this folder; '
                    'write them with tools/infer.py --format labels')
        if self.failed:
            return f'{len(self.failed)} image(s) failed (listed above) and no other pair matched'
        return (f'no prediction in {pred_dir} has the stem of a ground-truth file in {gt_dir} '
                f'(name them <stem>{{{suffixes}}} or <stem>{INFER_LABELS_TAG}.<ext>, as '
                'tools/infer.py does)')


def _index_folder(folder: Path, failed: Dict[str, str]) -> Dict[str, Path]:
    """Label-map files of a folder by stem; a stem with two files is an error."""
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: no such folder')
    by_stem: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in LABEL_SUFFIXES:
            continue
        if path.stem in by_stem:
            failed[path.stem] = (f'two files with the same stem in {folder}: '
                                 f'{by_stem[path.stem].name} and {path.name}')
            continue
        by_stem[path.stem] = path
    return by_stem


def _index_predictions(folder: Path, gt_stems: Set[str],
                       failed: Dict[str, str]) -> Dict[str, Path]:
    """Prediction files by the ground-truth stem they belong to (see the module docstring)."""
    found = _index_folder(folder, failed)
    by_stem: Dict[str, Path] = {}
    for stem, path in found.items():
        base = stem[:-len(INFER_OVERLAY_TAG)] if stem.endswith(INFER_OVERLAY_TAG) else None
        if base is not None and f'{base}{INFER_LABELS_TAG}' in found and stem not in gt_stems:
            continue  # tools/infer.py's overlay picture of <base>
        if (stem.endswith(INFER_LABELS_TAG) and stem not in gt_stems
                and stem[:-len(INFER_LABELS_TAG)] in gt_stems):
            stem = stem[:-len(INFER_LABELS_TAG)]
        if stem in by_stem or (stem != path.stem and stem in found):
            failed[stem] = (f'two predictions for {stem} in {folder}: '
                            f'{(by_stem.get(stem) or found[stem]).name} and {path.name}')
            continue
        by_stem[stem] = path
    return by_stem


def _count_objects(label_map: np.ndarray) -> int:
    return len(_relabel(label_map)[1])  # O(pixels), unlike np.unique's sort


def evaluate_folders(gt_dir: PathLike,
                     pred_dir: PathLike,
                     out_csv: Optional[PathLike] = None,
                     legacy: bool = False,
                     progress: bool = True,
                     reader: Callable[[PathLike], np.ndarray] = read_label_map) -> FolderEvalResult:
    """Score every prediction label map against the GT map with the same stem.

    Args:
        gt_dir: Folder of ground-truth instance label maps (PNG/TIFF/NPY).
        pred_dir: Folder of predicted label maps (PNG/TIFF/NPY).
        out_csv: If given, the per-image table is written there (atomically).
        legacy: Also compute :func:`legacy_paper_metrics` (columns ``legacy/*``).
        progress: Show a progress bar on stderr (:class:`~mmcyclic.utils.progress.Progress`).
        reader: Function reading one label map (for tests or other formats).

    Returns:
        A :class:`FolderEvalResult`; problems are listed in it, not raised.

    Raises:
        FileNotFoundError: A folder does not exist.
    """
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    result = FolderEvalResult()
    gt_files = _index_folder(gt_dir, result.failed)
    pred_files = _index_predictions(pred_dir, set(gt_files), result.failed)
    result.num_gt_files, result.num_pred_files = len(gt_files), len(pred_files)
    result.missing_pred = sorted(set(gt_files) - set(pred_files) - set(result.failed))
    result.missing_gt = sorted(set(pred_files) - set(gt_files) - set(result.failed))
    stems = sorted((set(gt_files) & set(pred_files)) - set(result.failed))

    bar = Progress(len(stems), progress, desc='evaluation', unit='image')
    inter = union = 0
    for stem in stems:
        try:
            gt = reader(gt_files[stem])
            pred = reader(pred_files[stem])
            metrics = nuclei_metrics(gt, pred)  # validates the pair first
            row: Dict[str, Union[str, float]] = {
                'image': stem,
                'n_gt': _count_objects(gt),
                'n_pred': _count_objects(pred)
            }
            row.update(metrics)
            if legacy:
                row.update({f'legacy/{k}': v for k, v in legacy_paper_metrics(gt, pred).items()})
        except Exception as error:  # noqa: BLE001 - report the file and go on
            result.failed[stem] = (f'{type(error).__name__}: {error} '
                                   f'(gt {gt_files[stem].name}, pred {pred_files[stem].name})')
        else:
            result.rows.append(row)
            inter += 2 * int(np.count_nonzero((gt > 0) & (pred > 0)))
            union += int(np.count_nonzero(gt)) + int(np.count_nonzero(pred))
        bar.update(note=stem)
    bar.close()

    _summarise(result, inter, union, legacy)
    if out_csv is not None:
        write_csv(result.rows, out_csv)
    return result


def _summarise(result: FolderEvalResult, inter: int, union: int, legacy: bool) -> None:
    if not result.rows:
        return
    for key in result.rows[0]:
        if key == 'image':
            continue
        values = np.array([row[key] for row in result.rows], dtype=float)
        finite = ~np.isnan(values)
        result.summary[key] = float(values[finite].mean()) if finite.any() else math.nan
        result.nan_skipped[key] = int((~finite).sum())
    result.summary['dice_aggregate'] = inter / union if union else 1.0
    if legacy:
        total = {k: sum(float(row[f'legacy/{k}']) for row in result.rows)
                 for k in ('dice_i', 'dice_u', 'obj_tp', 'obj_fp', 'obj_fn')}
        result.summary['legacy/dice_aggregate'] = (total['dice_i'] / total['dice_u']
                                                   if total['dice_u'] else math.nan)
        denominator = 2 * total['obj_tp'] + total['obj_fp'] + total['obj_fn']
        result.summary['legacy/obj_f1_aggregate'] = (2 * total['obj_tp'] / denominator
                                                     if denominator else math.nan)


def write_csv(rows: List[Dict[str, Union[str, float]]], path: PathLike) -> None:
    """Write per-image rows as CSV (header from the first row), atomically."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode())


def format_report(result: FolderEvalResult) -> str:
    """A plain-text table of the means and a list of every problem."""
    lines = []
    if result.summary:
        width = max(len(k) for k in result.summary)
        lines.append(f'{"metric":<{width}}  {"mean":>10}  {"NaN skipped":>11}')
        lines.append(f'{"-" * width}  {"-" * 10}  {"-" * 11}')
        for key, value in result.summary.items():
            skipped = result.nan_skipped.get(key)
            skipped_text = '' if skipped is None else str(skipped)
            lines.append(f'{key:<{width}}  {value:>10.4f}  {skipped_text:>11}')
    lines.append(f'scored images: {len(result.rows)}')
    for title, names in (('GT without prediction', result.missing_pred),
                         ('prediction without GT', result.missing_gt)):
        if names:
            lines.append(f'{title} ({len(names)}): {", ".join(names)}')
    if result.failed:
        lines.append(f'failed ({len(result.failed)}):')
        lines.extend(f'  {stem}: {reason}' for stem, reason in sorted(result.failed.items()))
    return '\n'.join(lines)
