"""Teacher predictions on every training image, stitched into whole images."""
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import collect_results, get_rank, get_world_size
from torch import nn
from torch.utils.data import DataLoader

from mmcyclic.evaluation.metrics.nuclei_metric import tile_predictions_from_sample
from mmcyclic.evaluation.stitching import TilePrediction, stitch_predictions_with_scores
from mmcyclic.utils.progress import Progress

WholeImagePredictions = Dict[str, Tuple[np.ndarray, np.ndarray]]


@torch.no_grad()
def predict_whole_images(model: nn.Module, dataloader: DataLoader, score_thr: float = 0.5,
                         merge_iou: float = 0.5) -> Optional[WholeImagePredictions]:
    """Run ``model`` over a patch dataloader and stitch each source image.

    Args:
        model: The detector (or its DDP wrapper); ``val_step`` is used.
        dataloader: Patches with the provenance meta keys (``source_id``,
            ``patch_origin``, ``source_shape``), e.g. the test pipeline.
        score_thr: Instances scoring below are not pseudo labels.
        merge_iou: Stitching rule parameter (see ``stitching``).

    Returns:
        On rank 0: ``{source_id: (label_map, scores)}``; on other ranks None.
    """
    was_training = model.training
    model.eval()
    parts: List[Tuple[str, Tuple[int, int], List[TilePrediction]]] = []
    progress = Progress(len(dataloader), get_rank() == 0, desc='predictions', unit='batch')
    for data in dataloader:
        for sample in model.val_step(data):
            sample = sample.to_dict()
            parts.append((str(sample['source_id']), tuple(sample['source_shape']),
                          tile_predictions_from_sample(sample, score_thr)))
        progress.update()
    progress.close()
    model.train(was_training)
    if get_world_size() > 1:
        parts = collect_results(parts, len(dataloader.dataset), device='cpu')
    if get_rank() != 0:
        return None
    grouped: Dict[str, List[TilePrediction]] = defaultdict(list)
    shapes: Dict[str, Tuple[int, int]] = {}
    for source_id, shape, predictions in parts:
        grouped[source_id].extend(predictions)
        shapes[source_id] = shape
    return {source_id: stitch_predictions_with_scores(grouped[source_id], shapes[source_id],
                                                      merge_iou=merge_iou)
            for source_id in shapes}
