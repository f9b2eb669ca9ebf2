"""Unit 4 of a cycle (Fig. 1): the classifier the next cycle starts from.

In modes ``bilateral`` and ``unilateral`` it is this cycle's classifier with
the backbone of the cycle's best model f^S
(:func:`~mmcyclic.models.backbone_transfer.classifier_with_backbone_of`),
written to ``cycle_i/next_classifier.pth``; in ``seeds_only`` the next
classifier continues from this one.
"""
import os.path as osp
from typing import Any, Dict, List

import torch
from mmengine.dist import barrier, broadcast_object_list, get_rank

from mmcyclic.models.backbone_transfer import classifier_with_backbone_of
from mmcyclic.utils.atomic import atomic_open


class HandBackStep:
    """Hands the best f^S backbone back to the front-end (or not) and returns the record.

    Args:
        runner (Runner): The cycle's runner (its logger).
        mode (str): The cycle's mode, recorded in the checkpoint's ``meta``.
        share_backbone (bool): Whether the best f^S backbone goes into the next f^C.
    """

    def __init__(self, runner, mode: str, share_backbone: bool) -> None:
        self.runner = runner
        self.mode = mode
        self.share_backbone = share_backbone

    def __call__(self, cycle: int, classifier_checkpoint: str, best_checkpoint: str,
                 out_dir: str) -> Dict[str, Any]:
        """The classifier cycle ``cycle + 1`` starts from.

        Args:
            cycle (int): The cycle that ends.
            classifier_checkpoint (str): Its classifier f^C.
            best_checkpoint (str): Its selected model f^S (``best_student.pth``).
            out_dir (str): The cycle's folder (``next_classifier.pth`` goes there).

        Returns:
            Dict[str, Any]: ``checkpoint`` (the next classifier's init), ``backbone_from``
            and ``backbone_tensors`` (None and 0 without sharing).

        Raises:
            ValueError: The backbone is to be shared and the cycle selected no model.
        """
        if not self.share_backbone:
            self.runner.logger.info(f'cyclic: cycle {cycle + 1} classifier continues from cycle '
                                    f'{cycle}\'s ({self.mode}: no weights from the back-end)')
            return dict(checkpoint=classifier_checkpoint, backbone_from=None, backbone_tensors=0)
        if not osp.isfile(best_checkpoint):
            raise ValueError(f'cyclic: cycle {cycle} selected no model ({best_checkpoint} is '
                             'missing: no phase has a validation score), so there is no backbone '
                             "to hand back; give the runner a val_dataloader or use "
                             "self_training.selection='agreement' with at least one student")
        out = osp.join(out_dir, 'next_classifier.pth')
        record: List[Dict[str, Any]] = [{}]
        if get_rank() == 0:
            weights, replaced = classifier_with_backbone_of(classifier_checkpoint, best_checkpoint)
            with atomic_open(out, 'wb') as handle:
                torch.save(dict(state_dict=weights,
                                meta=dict(cycle=cycle + 1, mode=self.mode,
                                          classifier=classifier_checkpoint,
                                          backbone_from=best_checkpoint,
                                          backbone_tensors=replaced)), handle)
            record[0] = dict(checkpoint=out, backbone_from=best_checkpoint,
                             backbone_tensors=replaced)
            self.runner.logger.info(
                f'cyclic: cycle {cycle + 1} classifier = cycle {cycle}\'s classifier with '
                f'{replaced} backbone tensors of {best_checkpoint} -> {out}')
        broadcast_object_list(record)
        barrier()
        return record[0]
