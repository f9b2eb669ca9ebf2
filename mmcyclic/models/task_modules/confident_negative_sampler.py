"""A RoI sampler that does not push down what the model already calls a nucleus.

With K seeds per image most nuclei are unlabelled, so most RoIs on a nucleus
are assigned to background. *Background recalibration* (after Zhang et al.,
"Solving Missing-Annotation Object Detection with Background Recalibration
Loss", ICASSP 2020): a negative RoI that the current box head already scores
as a confident nucleus is more likely an unlabelled nucleus than background,
so it is left out of the negatives (assigned ``-1``) before sampling; true
background, which the model scores low, is still sampled as negative.
"""
from typing import Optional

import torch
from mmdet.models.task_modules import AssignResult, RandomSampler, SamplingResult
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmengine.structures import InstanceData


@TASK_UTILS.register_module()
class ConfidentNegativeIgnoringSampler(RandomSampler):
    """:class:`RandomSampler` that ignores negatives the box head scores ≥ ``score_thr``.

    Use it as ``train_cfg.rcnn.sampler`` of a two-stage detector; mmdet's
    ``StandardRoIHead`` builds samplers with ``context=self`` and passes the
    image's features to :meth:`sample`, which this sampler uses to score the
    negative RoIs (no gradient).

    Args:
        score_thr: Foreground probability from which a negative is ignored.
        context: The RoI head (set by mmdet).
        **kwargs: :class:`RandomSampler` arguments (``num``, ``pos_fraction``, ...).
    """

    def __init__(self, *args, score_thr: float = 0.5, context=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0.0 < score_thr <= 1.0:
            raise ValueError(f'score_thr must be in (0, 1], got {score_thr}')
        self.score_thr = score_thr
        self.context = context

    def sample(self, assign_result: AssignResult, pred_instances: InstanceData,
               gt_instances: InstanceData, **kwargs) -> SamplingResult:
        """Ignore confident negatives, then sample as :class:`RandomSampler`."""
        feats = kwargs.get('feats')
        if self.context is not None and feats is not None:
            self.ignore_confident_negatives(assign_result, pred_instances, feats)
        return super().sample(assign_result, pred_instances, gt_instances, **kwargs)

    @torch.no_grad()
    def ignore_confident_negatives(self, assign_result: AssignResult,
                                   pred_instances: InstanceData, feats) -> int:
        """Set ``gt_inds`` of negatives scored ≥ ``score_thr`` to -1; returns how many."""
        negatives = torch.nonzero(assign_result.gt_inds == 0, as_tuple=False).squeeze(1)
        if negatives.numel() == 0:
            return 0
        priors = get_box_tensor(pred_instances.priors)[negatives]
        rois = bbox2roi([priors])
        cls_score = self.context._bbox_forward(feats, rois)['cls_score']
        probability = foreground_probability(cls_score)
        confident = negatives[probability >= self.score_thr]
        assign_result.gt_inds[confident] = -1
        return int(confident.numel())


def foreground_probability(cls_score: torch.Tensor, background: Optional[int] = None
                           ) -> torch.Tensor:
    """Probability of any foreground class from softmax logits (background = last column)."""
    background = cls_score.shape[1] - 1 if background is None else background
    return 1.0 - torch.softmax(cls_score.float(), dim=1)[:, background]
