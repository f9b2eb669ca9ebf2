"""mmengine metric that scores nuclei instance predictions on whole images."""
import csv
import io
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmcyclic.datasets.io import read_label_map, write_label_map
from mmcyclic.utils.atomic import atomic_write_bytes

from ..functional import legacy_paper_metrics, nuclei_metrics
from ..stitching import TilePrediction, stitch_predictions, tile_predictions_from_masks


def tile_predictions_from_sample(sample: dict, score_thr: float) -> List[TilePrediction]:
    """The confident instances of one predicted patch, in full-image coordinates.

    Args:
        sample: A predicted ``DetDataSample`` as a dict (``sample.to_dict()``)
            with ``pred_instances`` and the patch provenance meta keys.
        score_thr: Instances scoring below are dropped.
    """
    pred = sample['pred_instances']
    tile_shape = tuple(sample['ori_shape'][:2])
    scores = pred['scores'].detach().cpu().numpy()
    keep = scores >= score_thr
    if 'masks' not in pred or not keep.any():
        return []
    masks = pred['masks'].detach().cpu().numpy()[keep].astype(bool)
    return tile_predictions_from_masks(masks, scores[keep], sample.get('patch_origin', (0, 0)),
                                       tile_shape)


# Metrics that are NaN for an image where they are undefined (no objects).
UNDEFINABLE_METRICS = ('object_hausdorff', )


@METRICS.register_module()
class NucleiMetric(BaseMetric):
    """Dice, AJI, AJI+, PQ, object Dice and object Hausdorff on whole images.

    Patch (tile) predictions are stitched back into their full image with
    :func:`mmcyclic.evaluation.stitching.stitch_predictions` and compared with
    the full ground-truth label map named by the dataset (``label_map_path``),
    so the numbers do not depend on how the images were cut.

    Reported: the per-image mean of every metric of
    :func:`mmcyclic.evaluation.functional.nuclei_metrics`, the dataset-aggregate
    Dice (ΣI/ΣU) as ``dice_aggregate``, the number of images whose object
    Hausdorff is undefined (``object_hausdorff_skipped``), and with
    ``legacy=True`` the authors' code's numbers prefixed ``legacy/``.

    Args:
        score_thr: Predictions below this score are ignored.
        merge_iou: See :func:`stitch_predictions`.
        legacy: Also report :func:`legacy_paper_metrics`, on every detection the model
            outputs (score 0, as the official evaluation), not only those above
            ``score_thr``.
        out_dir: Folder for ``nuclei_per_image.csv`` (and stitched label maps
            with ``save_label_maps``). Defaults to the run's log folder.
        save_label_maps: Write each stitched prediction as ``<source_id>.png``.
        collect_device: See :class:`mmengine.evaluator.BaseMetric`.
        prefix: Prefix of the reported keys.
    """

    default_prefix: Optional[str] = 'nuclei'

    def __init__(self,
                 score_thr: float = 0.5,
                 merge_iou: float = 0.5,
                 legacy: bool = False,
                 out_dir: Optional[str] = None,
                 save_label_maps: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_thr = score_thr
        self.merge_iou = merge_iou
        self.legacy = legacy
        self.out_dir = out_dir
        self.save_label_maps = save_label_maps

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each tile's confident masks, cropped to their boxes."""
        for sample in data_samples:
            self.results.append(
                dict(
                    source_id=sample.get('source_id', str(sample['img_id'])),
                    source_shape=tuple(sample.get('source_shape', sample['ori_shape'][:2])),
                    label_map_path=sample.get('label_map_path'),
                    # The official evaluation scores every detection (score 0): the legacy
                    # numbers keep them all; the others those at or above score_thr.
                    predictions=tile_predictions_from_sample(
                        sample, 0.0 if self.legacy else self.score_thr)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Stitch per image, score, and average over images."""
        logger = MMLogger.get_current_instance()
        by_image: Dict[str, dict] = defaultdict(lambda: dict(predictions=[]))
        for result in results:
            entry = by_image[result['source_id']]
            entry.update(source_shape=result['source_shape'],
                         label_map_path=result['label_map_path'])
            entry['predictions'].extend(result['predictions'])

        rows, missing_gt = [], []
        intersection = union = 0
        for source_id in sorted(by_image):
            entry = by_image[source_id]
            if not entry['label_map_path']:
                missing_gt.append(source_id)
                continue
            gt = read_label_map(entry['label_map_path'])
            confident = [p for p in entry['predictions'] if p.score >= self.score_thr]
            pred = stitch_predictions(confident, gt.shape, merge_iou=self.merge_iou)
            row = dict(image=source_id, **nuclei_metrics(gt, pred))
            if self.legacy:
                every = stitch_predictions(entry['predictions'], gt.shape,
                                           merge_iou=self.merge_iou)
                row.update({f'legacy/{k}': v for k, v in legacy_paper_metrics(gt, every).items()})
            rows.append(row)
            intersection += 2 * np.count_nonzero((gt > 0) & (pred > 0))
            union += np.count_nonzero(gt) + np.count_nonzero(pred)
            if self.save_label_maps:
                write_label_map(
                    osp.join(self._output_dir(), 'label_maps', f'{source_id}.png'), pred)
        if missing_gt:
            logger.warning(f'NucleiMetric: {len(missing_gt)} image(s) have no ground-truth '
                           f'label map and were not scored: {", ".join(missing_gt[:5])}')
        if not rows:
            raise ValueError('NucleiMetric: no image could be scored (no ground-truth label maps). '
                             'Check that the annotation file has a "label_map" entry per image.')
        self._write_csv(rows)
        metrics = self._mean_over_images(rows)
        metrics['dice_aggregate'] = intersection / union if union else 1.0
        metrics['num_images'] = len(rows)
        return metrics

    @staticmethod
    def _mean_over_images(rows: List[dict]) -> Dict[str, float]:
        metrics = {}
        for key in rows[0]:
            if key == 'image':
                continue
            values = np.array([row[key] for row in rows], dtype=float)
            finite = ~np.isnan(values)
            metrics[key] = float(values[finite].mean()) if finite.any() else math.nan
            # Always reported for metrics that can be undefined, so a count from
            # an earlier evaluation never lingers in the logger's history.
            if key in UNDEFINABLE_METRICS or not finite.all():
                metrics[f'{key}_skipped'] = int((~finite).sum())
        return metrics

    def _output_dir(self) -> str:
        if self.out_dir:
            return self.out_dir
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        return osp.dirname(log_file) if log_file else '.'

    def _write_csv(self, rows: List[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        path = osp.join(self._output_dir(), 'nuclei_per_image.csv')
        atomic_write_bytes(path, buffer.getvalue().encode())
        MMLogger.get_current_instance().info(f'NucleiMetric: per-image scores written to {path}')
