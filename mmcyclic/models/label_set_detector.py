"""One backbone pass, several weighted label sets (paper Eq. 2).

The student of self-training minimises ``α·L(M) + (1−α)·L(M')`` on the same
images. Running the detector twice would run the backbone and neck twice;
instead the features are computed once and the heads' losses are evaluated
once per label set.

Data-sample convention: an instance's ``labels`` value is the index of the
label set it belongs to (the dataset stores set ``k`` as category ``k + 1``,
see :mod:`mmcyclic.datasets.label_sets`). The model splits the instances by
that index, resets the labels to 0 (one class, ``nucleus``) and weights the
per-set losses by ``label_set_weights``.
"""
import copy
from typing import Dict, List, Sequence, Tuple, Union

import torch
from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from torch import Tensor

LossDict = Dict[str, Union[Tensor, List[Tensor]]]


def select_label_set(data_samples: Sequence[DetDataSample], index: int) -> List[DetDataSample]:
    """Copies of ``data_samples`` holding only the instances of set ``index`` (labels → 0)."""
    selected = []
    for sample in data_samples:
        sample = copy.copy(sample)
        keep = sample.gt_instances.labels == index
        instances = sample.gt_instances[keep]
        instances.labels = torch.zeros_like(instances.labels)
        sample.gt_instances = instances
        selected.append(sample)
    return selected


def weighted_loss_sum(loss_dicts: Sequence[LossDict], weights: Sequence[float]) -> LossDict:
    """``Σ_k w_k · losses_k`` key by key (list-valued losses element-wise)."""
    total: LossDict = {}
    for losses, weight in zip(loss_dicts, weights):
        for key, value in losses.items():
            scaled = [v * weight for v in value] if isinstance(value, list) else value * weight
            if key not in total:
                total[key] = scaled
            elif isinstance(scaled, list):
                total[key] = [a + b for a, b in zip(total[key], scaled)]
            else:
                total[key] = total[key] + scaled
    return total


class LabelSetLossMixin:
    """Loss over weighted label sets for any mmdet two-stage detector.

    Mix in before the detector class (``class X(LabelSetLossMixin, MaskRCNN)``).
    ``label_set_weights[k]`` weights set ``k``; a zero weight skips the set
    (the teacher of Eq. 1 uses ``(1, 0)``).
    """

    label_set_names: Tuple[str, ...] = ('M', 'M_prime')
    label_set_weights: Tuple[float, ...] = (0.66, 0.34)

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """Backbone and neck once, then the heads' losses once per label set."""
        feats = self.extract_feat(batch_inputs)
        per_set, weights = [], []
        for index, weight in enumerate(self.label_set_weights):
            if weight == 0:
                continue
            per_set.append(self.loss_from_features(feats, select_label_set(batch_data_samples, index)))
            weights.append(weight)
        losses = weighted_loss_sum(per_set, weights)
        for name, set_losses in zip(
                (n for n, w in zip(self.label_set_names, self.label_set_weights) if w), per_set):
            # Logged, not optimised: parse_losses sums only keys containing "loss".
            losses[f'{name}_total'] = sum(
                sum(v) if isinstance(v, list) else v
                for k, v in set_losses.items() if 'loss' in k).detach()
        return losses

    def loss_from_features(self, feats: Tuple[Tensor, ...],
                           batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """mmdet's ``TwoStageDetector.loss`` after ``extract_feat``."""
        losses: LossDict = {}
        if self.with_rpn:
            proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
            rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(
                feats, batch_data_samples, proposal_cfg=proposal_cfg)
            for key in list(rpn_losses):
                if 'loss' in key and 'rpn' not in key:
                    rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
            losses.update(rpn_losses)
        else:
            rpn_results_list = [sample.proposals for sample in batch_data_samples]
        losses.update(self.roi_head.loss(feats, rpn_results_list, batch_data_samples))
        return losses


@MODELS.register_module()
class LabelSetMaskRCNN(LabelSetLossMixin, MaskRCNN):
    """Mask R-CNN trained on weighted label sets with one backbone pass.

    Args:
        label_set_weights: Weight of each label set (``(α, 1 − α)``).
        label_set_names: Names used in the logged per-set totals.
        **kwargs: :class:`mmdet.models.MaskRCNN` arguments.
    """

    def __init__(self, *args, label_set_weights: Sequence[float] = (0.66, 0.34),
                 label_set_names: Sequence[str] = ('M', 'M_prime'), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(label_set_weights) != len(label_set_names):
            raise ValueError('label_set_weights and label_set_names must have the same length')
        self.label_set_weights = tuple(float(w) for w in label_set_weights)
        self.label_set_names = tuple(label_set_names)
