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

Label sets that don't fight: taken literally, Eq. 2 makes every M' nucleus a
negative of L(M) (and every M nucleus a negative of L(M')); at the optimum its
score is 1 − α = 0.34, below the pseudo-label threshold, so self-training
would suppress what it adds. With ``ignore_other_sets=True`` (the default)
:func:`select_label_set` hands the other sets' instances to the heads as
``ignored_instances``, and the assigners
(:class:`~mmcyclic.models.task_modules.MaxIoUAssignerWithIgnoredInstances`)
make candidates on them neither positive nor negative for that set. The split
is back-end independent: any model that takes label sets reads the same
``gt_instances`` / ``ignored_instances`` pair.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import get_box_tensor
from mmengine.structures import InstanceData
from torch import Tensor

from .stain_prior import images_as_rgb, unlabelled_blob_boxes
from .task_modules import MaxIoUAssignerWithIgnoredInstances

LossDict = Dict[str, Union[Tensor, List[Tensor]]]


def select_label_set(data_samples: Sequence[DetDataSample], index: int,
                     ignore_other_sets: bool = False) -> List[DetDataSample]:
    """Copies of ``data_samples`` holding only the instances of set ``index`` (labels → 0).

    Args:
        data_samples: Samples whose ``gt_instances.labels`` are label-set indices.
        index: The set to learn.
        ignore_other_sets: Put the instances of every other set into
            ``ignored_instances`` (labels → 0), so that assigners which honour
            ignored instances do not make them negatives of this set.

    Returns:
        New samples sharing the inputs' tensors; the inputs are not changed.
    """
    selected = []
    for sample in data_samples:
        instances = sample.gt_instances
        in_set = instances.labels == index
        fields = dict(sample.items(), gt_instances=_as_one_class(instances[in_set]))
        if ignore_other_sets:
            fields['ignored_instances'] = with_ignored_boxes(
                sample, get_box_tensor(instances[~in_set].bboxes))
        selected.append(sample.new(**fields))
    return selected


def with_ignored_boxes(sample: DetDataSample, boxes: Tensor) -> InstanceData:
    """The sample's ignored instances (e.g. crowd regions) plus ``boxes``.

    Assigners read only the boxes of ignored instances, so the result holds
    ``bboxes`` (an ``(n, 4)`` tensor) and ``labels`` (0).
    """
    parts = [boxes.reshape(-1, 4).float()]
    existing = sample.get('ignored_instances')
    if existing is not None and len(existing):
        parts.insert(0, get_box_tensor(existing.bboxes).float())
    bboxes = torch.cat(parts)
    labels = torch.zeros(len(bboxes), dtype=torch.long, device=bboxes.device)
    return InstanceData(bboxes=bboxes, labels=labels)


def ignored_pixel_mask(data_samples: Sequence[DetDataSample], shape: Tuple[int, int],
                       device: Optional[torch.device] = None, margin: float = 0.0) -> Tensor:
    """Pixels a dense loss must not count: the ignored instances' boxes, filled.

    Dense back-ends (per-pixel losses) honour ``ignored_instances`` by giving
    the pixels of their boxes zero weight; pixels of the set's own instances
    (``gt_instances.masks``) always count.

    Args:
        data_samples: Samples as :func:`select_label_set` returns them.
        shape: ``(H, W)`` of the loss maps (the padded batch shape).
        device: Device of the result (default: CPU).
        margin: Grow each ignored box by this many pixels on every side (e.g. a
            keypoint disc's radius, so the discs of an ignored box's corners
            are ignored too).

    Returns:
        ``(N, H, W)`` bool tensor, True = ignore.
    """
    height, width = shape
    ignored = torch.zeros((len(data_samples), height, width), dtype=torch.bool, device=device)
    for index, sample in enumerate(data_samples):
        instances = sample.get('ignored_instances')
        if instances is None or not len(instances):
            continue
        boxes = get_box_tensor(instances.bboxes).detach().float().cpu()
        boxes = torch.cat([boxes[:, :2] - margin, boxes[:, 2:] + margin], dim=1)
        x1, y1 = boxes[:, 0].floor().clamp(0, width), boxes[:, 1].floor().clamp(0, height)
        x2, y2 = boxes[:, 2].ceil().clamp(0, width), boxes[:, 3].ceil().clamp(0, height)
        for left, top, right, bottom in zip(x1.long(), y1.long(), x2.long(), y2.long()):
            ignored[index, top:bottom, left:right] = True
        own = sample.gt_instances.get('masks')
        if own is not None and len(own):
            own_pixels = own.to_tensor(torch.bool, ignored.device).any(dim=0)
            h, w = min(height, own_pixels.shape[0]), min(width, own_pixels.shape[1])
            ignored[index, :h, :w] &= ~own_pixels[:h, :w]
    return ignored


def _as_one_class(instances):
    instances.labels = torch.zeros_like(instances.labels)
    return instances


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
    """Loss over weighted label sets for any back-end.

    Mix in before the detector class (``class X(LabelSetLossMixin, MaskRCNN)``);
    its ``__init__`` takes the label-set arguments below and hands the others
    to the detector's. The detector (or the
    subclass) provides ``loss_from_features(feats, batch_data_samples)``: one
    set's losses after ``extract_feat``, where ``batch_data_samples`` hold only
    that set's instances (labels 0) and, in ``ignored_instances``, the boxes
    that must be neither positive nor negative (the other sets' nuclei,
    unlabelled stain blobs); dense heads rasterise them with
    :func:`ignored_pixel_mask`.
    ``label_set_weights[k]`` weights set ``k``; a zero weight skips the set
    (the teacher of Eq. 1 uses ``(1, 0)``). With ``ignore_other_sets`` each
    set's loss ignores the other sets' instances as negatives.
    """

    label_set_names: Tuple[str, ...] = ('M', 'M_prime')
    label_set_weights: Tuple[float, ...] = (0.66, 0.34)
    ignore_other_sets: bool = True

    def loss(self, batch_inputs: Tensor, batch_data_samples: Sequence[DetDataSample]) -> LossDict:
        """Backbone and neck once, then the heads' losses once per label set."""
        feats = self.extract_feat(batch_inputs)
        stain_blobs = self.unlabelled_stain_blobs(batch_inputs, batch_data_samples)
        per_set, weights = [], []
        for index, weight in enumerate(self.label_set_weights):
            if weight == 0:
                continue
            samples = select_label_set(batch_data_samples, index, self.ignore_other_sets)
            if stain_blobs is not None:
                samples = [s.new(**dict(s.items(), ignored_instances=with_ignored_boxes(s, b)))
                           for s, b in zip(samples, stain_blobs)]
            per_set.append(self.loss_from_features(feats, samples))
            weights.append(weight)
        losses = weighted_loss_sum(per_set, weights)
        for name, set_losses in zip(
                (n for n, w in zip(self.label_set_names, self.label_set_weights) if w), per_set):
            # Logged, not optimised: parse_losses sums only keys containing "loss".
            losses[f'{name}_total'] = sum(
                sum(v) if isinstance(v, list) else v
                for k, v in set_losses.items() if 'loss' in k).detach()
        return losses

    def unlabelled_stain_blobs(self, batch_inputs: Tensor,
                               batch_data_samples: Sequence[DetDataSample]
                               ) -> Optional[List[Tensor]]:
        """Boxes of hematoxylin blobs that no label set covers, per image (stain prior).

        Off (None) unless ``train_cfg.ignore_unlabelled_stain_blobs`` is a dict
        of :func:`~mmcyclic.models.stain_prior.hematoxylin_blob_boxes`
        arguments (``min_area``, ``max_area``, ``threshold``, ``opening_radius``).
        """
        options = (self.train_cfg or {}).get('ignore_unlabelled_stain_blobs')
        if not options:
            return None
        preprocessor = self.data_preprocessor
        images = images_as_rgb(batch_inputs, preprocessor.mean.view(-1).tolist(),
                               preprocessor.std.view(-1).tolist())
        return [unlabelled_blob_boxes(image, get_box_tensor(sample.gt_instances.bboxes),
                                      **dict(options))
                for image, sample in zip(images, batch_data_samples)]

    def __init__(self, *args, label_set_weights: Sequence[float] = (0.66, 0.34),
                 label_set_names: Sequence[str] = ('M', 'M_prime'),
                 ignore_other_sets: bool = True, **kwargs) -> None:
        """
        Args:
            label_set_weights: Weight of each label set (``(α, 1 − α)``).
            label_set_names: Names used in the logged per-set totals.
            ignore_other_sets: Each set's loss ignores the other sets' instances
                (True, default), or takes Eq. 2 literally (False: they are
                negatives of this set).
            *args, **kwargs: The detector's arguments.

        Raises:
            NotImplementedError: The class has no ``loss_from_features``.
        """
        super().__init__(*args, **kwargs)
        if not callable(getattr(self, 'loss_from_features', None)):
            raise NotImplementedError(
                f'{type(self).__name__} must implement loss_from_features(feats, '
                'batch_data_samples) (one label set\'s losses after extract_feat) to take '
                'label sets')
        if len(label_set_weights) != len(label_set_names):
            raise ValueError('label_set_weights and label_set_names must have the same length')
        self.label_set_weights = tuple(float(w) for w in label_set_weights)
        self.label_set_names = tuple(label_set_names)
        self.ignore_other_sets = bool(ignore_other_sets)


@MODELS.register_module()
class LabelSetMaskRCNN(LabelSetLossMixin, MaskRCNN):
    """Mask R-CNN trained on weighted label sets with one backbone pass.

    Args:
        label_set_weights: Weight of each label set (``(α, 1 − α)``).
        label_set_names: Names used in the logged per-set totals.
        ignore_other_sets: Each set's loss ignores the other sets' instances
            as negatives (True, default; needs
            :class:`~mmcyclic.models.task_modules.MaxIoUAssignerWithIgnoredInstances`
            in ``train_cfg.rpn`` and ``train_cfg.rcnn``), or takes Eq. 2
            literally (False).
        **kwargs: :class:`mmdet.models.MaskRCNN` arguments.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_assigners_ignore_other_sets()

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

    def check_assigners_ignore_other_sets(self) -> None:
        """Raise unless every assigner honours ignored instances, when a rule needs it
        (``ignore_other_sets`` or ``train_cfg.ignore_unlabelled_stain_blobs``)."""
        if not self.train_cfg or not (self.ignore_other_sets or self.train_cfg.get(
                'ignore_unlabelled_stain_blobs')):
            return
        assigners = {'train_cfg.rpn.assigner': getattr(self.rpn_head, 'assigner', None),
                     'train_cfg.rcnn.assigner': getattr(self.roi_head, 'bbox_assigner', None)}
        wrong = [key for key, assigner in assigners.items() if assigner is not None
                 and not isinstance(assigner, MaxIoUAssignerWithIgnoredInstances)]
        if wrong:
            raise ValueError(
                f'{type(self).__name__}: ignore_other_sets / ignore_unlabelled_stain_blobs need '
                'assigners that leave ignored instances out of the negatives, but '
                f'{", ".join(wrong)} is not one: set type=\'MaxIoUAssignerWithIgnoredInstances\' '
                'there (as configs/_base_/weak_supervision.py does), or ignore_other_sets=False '
                '(and no stain prior) for the literal Eq. 2 loss.')
