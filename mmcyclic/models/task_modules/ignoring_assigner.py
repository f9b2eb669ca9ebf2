"""An assigner whose negatives may not lie on an ignored instance.

Self-training trains on several label sets at once (paper Eq. 2,
``α·L(M) + (1−α)·L(M')``). Computed literally, an instance of M' is background
for L(M) and an instance of M is background for L(M'), so each set's loss
pushes down what the other set labels. :class:`MaxIoUAssignerWithIgnoredInstances`
implements the rule that stops this: a candidate (anchor or RoI) that would be
a *negative* for the instances being learnt, but whose best IoU with an
*ignored* instance (``gt_instances_ignore``, i.e. an instance of another set)
is at least the negative threshold, is assigned ``-1``: neither positive nor
negative, so no sampler draws it and no loss sees it. Positives are unchanged.

mmdet's heads already pass ``DetDataSample.ignored_instances`` to their
assigner as ``gt_instances_ignore`` (``unpack_gt_instances``); plain
:class:`~mmdet.models.task_modules.MaxIoUAssigner` discards them unless
``ignore_iof_thr > 0``, and then it also blanks positives and uses
intersection over foreground instead of IoU.
"""
from typing import Optional

from mmdet.models.task_modules import AssignResult, MaxIoUAssigner
from mmdet.registry import TASK_UTILS
from mmengine.structures import InstanceData


@TASK_UTILS.register_module()
class MaxIoUAssignerWithIgnoredInstances(MaxIoUAssigner):
    """:class:`MaxIoUAssigner` that turns negatives on ignored instances into "ignore".

    Takes the arguments of :class:`~mmdet.models.task_modules.MaxIoUAssigner`.
    The negative threshold is ``neg_iou_thr`` (its upper bound when a
    ``(low, high)`` range is given).
    """

    @property
    def negative_threshold(self) -> float:
        """IoU with an ignored instance from which a negative is ignored instead."""
        thr = self.neg_iou_thr
        return float(thr[1]) if isinstance(thr, (tuple, list)) else float(thr)

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None, **kwargs) -> AssignResult:
        """Assign as :class:`MaxIoUAssigner`, then ignore negatives on ignored instances.

        Args:
            pred_instances: Candidates, with ``priors`` (anchors or RoIs).
            gt_instances: The instances being learnt, with ``bboxes`` and ``labels``.
            gt_instances_ignore: Instances of other label sets, with ``bboxes``.

        Returns:
            The assignment; ``gt_inds`` is 0 (negative), -1 (ignored) or a
            1-based index into ``gt_instances``.
        """
        result = super().assign(pred_instances, gt_instances, gt_instances_ignore, **kwargs)
        if gt_instances_ignore is None or len(gt_instances_ignore) == 0:
            return result
        priors = pred_instances.priors
        if priors.numel() == 0:
            return result
        ignored = gt_instances_ignore.bboxes
        overlaps = self.iou_calculator(ignored.to(priors.device), priors)
        on_ignored = overlaps.max(dim=0).values >= self.negative_threshold
        negatives_on_ignored = (result.gt_inds == 0) & on_ignored.to(result.gt_inds.device)
        result.gt_inds[negatives_on_ignored] = -1
        return result
