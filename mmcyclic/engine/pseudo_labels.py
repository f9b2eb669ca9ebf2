"""Pseudo labels: a model's predictions on every training image, stitched into whole images,
as a label set (the next M'), and how well they agree with its teacher's."""
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, collect_results, get_rank, get_world_size
from torch import nn
from torch.utils.data import DataLoader

from mmcyclic.datasets.coco_format import annotations_to_label_map
from mmcyclic.datasets.label_sets import LabelSet, label_set_from_label_maps, load_label_set
from mmcyclic.evaluation.functional import aji, pixel_dice
from mmcyclic.evaluation.metrics.nuclei_metric import tile_predictions_from_sample
from mmcyclic.evaluation.stitching import TilePrediction, stitch_predictions_with_scores
from mmcyclic.utils.progress import Progress

WholeImagePredictions = Dict[str, Tuple[np.ndarray, np.ndarray]]


@torch.no_grad()
def predict_whole_images(model: nn.Module, dataloader: DataLoader, score_thr: float = 0.5,
                         merge_iou: float = 0.5, stats: Optional[Dict[str, Any]] = None
                         ) -> Optional[WholeImagePredictions]:
    """Run ``model`` over a patch dataloader and stitch each source image.

    Args:
        model: The detector (or its DDP wrapper); ``val_step`` is used.
        dataloader: Patches with the provenance meta keys (``source_id``,
            ``patch_origin``, ``source_shape``), e.g. the test pipeline.
        score_thr: Instances scoring below are not pseudo labels.
        merge_iou: Stitching rule parameter (see ``stitching``).
        stats: When given, gets ``max_score`` on rank 0: the highest score of any instance the
            model predicted, below the threshold too (None when it predicted none).

    Returns:
        On rank 0: ``{source_id: (label_map, scores)}``; on other ranks None.
    """
    was_training = model.training
    model.eval()
    parts: List[Tuple[str, Tuple[int, int], List[TilePrediction], Optional[float]]] = []
    progress = Progress(len(dataloader), get_rank() == 0, desc='predictions', unit='batch')
    for data in dataloader:
        for sample in model.val_step(data):
            sample = sample.to_dict()
            scores = sample['pred_instances']['scores']
            parts.append((str(sample['source_id']), tuple(sample['source_shape']),
                          tile_predictions_from_sample(sample, score_thr),
                          float(scores.max()) if len(scores) else None))
        progress.update()
    progress.close()
    model.train(was_training)
    if get_world_size() > 1:
        parts = collect_results(parts, len(dataloader.dataset), device='cpu')
    if get_rank() != 0:
        return None
    grouped: Dict[str, List[TilePrediction]] = defaultdict(list)
    shapes: Dict[str, Tuple[int, int]] = {}
    for source_id, shape, predictions, _ in parts:
        grouped[source_id].extend(predictions)
        shapes[source_id] = shape
    if stats is not None:
        highest = [score for *_, score in parts if score is not None]
        stats['max_score'] = max(highest) if highest else None
    return {source_id: stitch_predictions_with_scores(grouped[source_id], shapes[source_id],
                                                      merge_iou=merge_iou)
            for source_id in shapes}


def predictions_as_label_set(m_set: LabelSet, predictions: WholeImagePredictions, info: dict
                             ) -> Tuple[LabelSet, Dict[int, Tuple[np.ndarray, np.ndarray]]]:
    """The predictions on the images of ``m_set`` as a label set (the next M').

    Args:
        m_set (LabelSet): The set the model trained on; its images (matched by ``source_id``)
            are the images of the result.
        predictions (WholeImagePredictions): :func:`predict_whole_images` output.
        info (dict): The result's ``info`` (round, label-set name, score threshold).

    Returns:
        Tuple[LabelSet, dict]: the label set, and the predictions keyed by image id (the
        images that were predicted on: a budget may cover only some of them).
    """
    by_source = {str(img.get('source_id', img['id'])): img['id'] for img in m_set.images}
    keyed = {by_source[s]: pred for s, pred in predictions.items() if s in by_source}
    return label_set_from_label_maps(m_set.images, keyed, info=info), keyed


def agreement_with_teacher(teacher: LabelSet,
                           predictions: WholeImagePredictions) -> Dict[str, float]:
    """Label-free score of a model: how well it reproduces its teacher's predictions.

    Args:
        teacher (LabelSet): The teacher's predictions (its ``predictions.json``).
        predictions (WholeImagePredictions): This model's, by source id.

    Returns:
        Dict[str, float]: mean pixel Dice and AJI over the images both predicted on
        (``agreement_dice``, ``agreement_aji``; NaN if there are none).
    """
    dices, ajis = [], []
    by_image = teacher.by_image()
    for image in teacher.images:
        source = str(image.get('source_id', image['id']))
        if source not in predictions:
            continue
        mine = predictions[source][0]
        theirs = annotations_to_label_map(by_image[image['id']], *mine.shape)
        dices.append(pixel_dice(theirs, mine))
        ajis.append(aji(theirs, mine))
    return dict(agreement_dice=float(np.mean(dices)) if dices else float('nan'),
                agreement_aji=float(np.mean(ajis)) if ajis else float('nan'))


def write_pseudo_labels(runner, dataloader_cfg: Dict[str, Any], m_set: LabelSet, out_file: str,
                        round_index: int, score_thr: float, merge_iou: float,
                        teacher_file: Optional[str] = None) -> Dict[str, Any]:
    """The runner's model predicts the next M' on the training images; rank 0 writes it.

    Args:
        runner (Runner): Its model predicts; its logger gets a warning for images
            without any prediction.
        dataloader_cfg (dict): The training patches with the test pipeline.
        m_set (LabelSet): The set the model trained on (the images of M').
        out_file (str): Where M' goes (a phase's ``predictions.json``).
        round_index (int): The round that trains on this M' minus one.
        score_thr (float): Predictions scoring below are not pseudo labels.
        merge_iou (float): Patch stitching parameter.
        teacher_file (str, optional): The model's teacher's ``predictions.json``, to
            score the agreement with (:func:`agreement_with_teacher`).

    Returns:
        Dict[str, Any]: on every rank, ``num_predicted``, ``images_without_prediction``,
        ``max_score`` (the highest instance score, below ``score_thr`` too; None when the
        model predicted nothing) and, with a teacher, ``agreement_dice`` and ``agreement_aji``.
    """
    loader = runner.build_dataloader(dataloader_cfg, seed=runner.seed)
    stats: Dict[str, Any] = {}
    predictions = predict_whole_images(runner.model, loader, score_thr, merge_iou, stats)
    result: List[Dict[str, Any]] = [{}]
    if get_rank() == 0:
        m_prime, keyed = predictions_as_label_set(
            m_set, predictions, info=dict(round=round_index + 1, label_set='M_prime',
                                          score_thr=score_thr))
        m_prime.save(out_file)
        # The training patches may cover only some of the images (an `indices` budget).
        empty = sum(1 for image_id, anns in m_prime.by_image().items()
                    if image_id in keyed and not anns)
        if empty:
            runner.logger.warning(
                f'self-training: the model predicted no nucleus above score {score_thr} '
                f'on {empty} of the {len(keyed)} training images')
        result[0] = dict(num_predicted=len(m_prime.annotations), images_without_prediction=empty,
                         max_score=stats['max_score'])
        if teacher_file is not None:
            result[0].update(agreement_with_teacher(load_label_set(teacher_file), predictions))
    broadcast_object_list(result)
    barrier()
    return result[0]
