"""Choosing the result of a self-training run, the best of the teacher and the students, and
writing it (:func:`write_selection`).

The paper's "equal-or-better student": a student worse than its teacher is never chosen over
it. Rules (``SELECTION_KEYS``): ``'val_dice'`` ranks by pixel Dice on the validation images
(their pixel labels, as the paper); ``'agreement'`` is label-free, the AJI between a model's
predictions on the training images and its teacher's (the first teacher has no teacher, so
this rule picks a student).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import barrier, get_rank

from mmcyclic.utils.atomic import atomic_copy, atomic_write_json

# selection rule -> the phase record key it ranks by
SELECTION_KEYS = {'val_dice': 'val_pixel_dice', 'agreement': 'agreement_aji'}


class NoUsableModel(RuntimeError):
    """No phase of a self-training run found a nucleus, so none can be selected."""


def phase_scores(phases: Sequence[dict], key: str) -> Dict[str, float]:
    """``{phase name: score}`` of the candidates for a selection key, teacher included.

    A candidate has a finite score and found at least one nucleus: a positive
    validation Dice for ``val_pixel_dice``; at least one prediction on the
    training images for ``agreement_aji`` (two models that both predict
    nothing agree perfectly). The teacher has no ``agreement_aji`` (it has no
    teacher of its own), so the label-free rule chooses among the students.
    """
    scores = {}
    for phase in phases:
        score = phase.get(key)
        if not isinstance(score, (int, float)) or not np.isfinite(score):
            continue
        found = score > 0 if key == 'val_pixel_dice' else phase.get('num_predicted', 1) > 0
        if found:
            scores[phase['name']] = float(score)
    return scores


def best_phase(scores: Dict[str, float]) -> Optional[str]:
    """The highest-scoring phase; on a tie the earliest (the teacher before its students)."""
    return max(scores, key=scores.__getitem__) if scores else None


def select_phase(phases: Sequence[dict], selection: str, where: str, logger) -> dict:
    """Every rule's scores and choice, and the chosen phase of ``selection``.

    Args:
        phases (Sequence[dict]): The phase records of the run, in order.
        selection (str): The rule that decides (a key of ``SELECTION_KEYS``).
        where (str): The run's folder, named in errors.
        logger: Receives the warnings (a phase that found nothing, rules that disagree).

    Returns:
        dict: ``selection``, ``selected`` (a phase name, or None when no phase was scored),
        ``selected_by`` (each rule's choice) and ``selection_scores`` (each rule's candidates).

    Raises:
        NoUsableModel: Phases were scored by the rule and none found a nucleus.
    """
    scores = {rule: phase_scores(phases, key) for rule, key in SELECTION_KEYS.items()}
    key = SELECTION_KEYS[selection]
    empty = [p['name'] for p in phases if key in p and p['name'] not in scores[selection]]
    if empty:
        logger.warning(f'self-training: {", ".join(empty)} found no nucleus (by {key}): '
                       'not a selection candidate')
    selected = {rule: best_phase(scores[rule]) for rule in SELECTION_KEYS}
    chosen = selected[selection]
    if chosen is None and any(key in p for p in phases):
        names = ', '.join(p['name'] for p in phases)
        raise NoUsableModel(
            f'self-training in {where}: no phase ({names}) found a nucleus by the '
            f'{selection!r} rule, so there is no model to select. Look at the seeds (too few, '
            'or not on nuclei: seed_quality.json, overlays), train the teacher longer, or lower '
            'score_thr (the pseudo-label threshold) and the evaluator\'s score_thr.')
    if selected['val_dice'] != selected['agreement']:
        logger.warning(f'self-training: val_dice selects {selected["val_dice"]}, the label-free '
                       f'agreement rule selects {selected["agreement"]}')
    logger.info(f'self-training: selected {chosen} by {selection} among '
                + ', '.join(f'{name} {score:.4f}' for name, score in scores[selection].items()))
    return dict(selection=selection, selected=chosen, selected_by=selected,
                selection_scores=scores)


def write_selection(phases: List[dict], selection: str, alpha: float, out_dir: str,
                    logger) -> dict:
    """Select among ``phases``; rank 0 writes ``best_student.pth`` and ``self_training.json``.

    Args:
        phases (List[dict]): The phase records of the run, in order.
        selection (str): The rule that decides (a key of ``SELECTION_KEYS``).
        alpha (float): The run's α, recorded in the summary.
        out_dir (str): The run's folder: ``best_student.pth`` (a copy of the chosen
            phase's checkpoint, when one is chosen) and ``self_training.json`` go there.
        logger: Receives :func:`select_phase`'s messages.

    Returns:
        dict: The summary written to ``self_training.json``: :func:`select_phase`'s keys,
        ``alpha`` and ``phases``.
    """
    summary = dict(select_phase(phases, selection, out_dir, logger), alpha=alpha, phases=phases)
    if get_rank() == 0:
        chosen = summary['selected']
        if chosen is not None:
            best = next(p for p in phases if p['name'] == chosen)
            atomic_copy(best['checkpoint'], osp.join(out_dir, 'best_student.pth'))
        atomic_write_json(osp.join(out_dir, 'self_training.json'), summary, indent=2)
    barrier()
    return summary
