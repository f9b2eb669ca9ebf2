"""Back-end self-training (paper §III-B, Eq. 1–2) as an MMEngine train loop.

Phases, each a unit that is checkpointed and resumable:

1. **teacher** — trained on the seed set M alone (Eq. 1; label-set weights
   ``(1, 0)``), then validated and used to predict M' on every training image.
2. **student j** (j = 1..N) — re-initialised (the model's initial weights,
   plus the backbone of ``backbone_checkpoint`` when given, as the paper's
   Fig. 1c), trained on ``α·L(M) + (1−α)·L(M')`` (Eq. 2), validated, then
   ``M ← M ∪ M'`` and the student becomes the teacher: it predicts the next M'.

Everything a round uses is a file in ``<work_dir>/<out_dir>/`` (the label sets and training
files: :class:`~.round_files.RoundFiles`, each written once per run; M':
:func:`~.pseudo_labels.write_pseudo_labels`; the result:
:func:`~.phase_selection.write_selection`)::

    teacher/  student_1/ ...   checkpoint.pth, M.json, M_prime.json, union.json,
                               train_patches.json (the patch-level training file),
                               predictions.json (the next phase's M')
    initial_weights.pth        the weights every student starts from
    state.json                 finished phases (what --resume skips)
    self_training.json         per-phase metrics, label-set sizes, selection
    training_patches.json      the training patches (M' is predicted on exactly these)
    best_student.pth           the selected model (teacher or student)

Selection (the paper's "equal-or-better student"): the best of the teacher and
the students by ``'val_dice'`` (pixel Dice on the validation images — this uses
the pixel labels of those images, as the paper does) or by ``'agreement'``
(label-free: AJI between a student's predictions on the training images and
its teacher's; the first teacher has none, so this rule picks a student). Both
rules' scores and choices are in ``self_training.json`` (``selection_scores``,
``selected_by``); ``best_student.pth`` holds the chosen model, teacher or student.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmdet.registry import LOOPS
from mmengine.runner import BaseLoop, load_checkpoint, set_random_seed

from mmcyclic.models import LabelSetLossMixin
from mmcyclic.models.backbone_transfer import load_backbone
from mmcyclic.utils.config import ConfigError, evaluator_score_thr

from .loop_state import StateFile, read_state_dict, save_weights, unwrap
from .optim_wrapper import TrainingDiverged
from .phase_selection import write_selection
from .pseudo_labels import write_pseudo_labels
from .round_files import RoundFiles
from .value_ranges import SELF_TRAINING_RANGES, check_values


class EmptyPseudoLabels(RuntimeError):
    """A phase's model predicted no pseudo label above the threshold on any training image."""


def phases_of(num_students: int) -> List[str]:
    """The phase names in order: ``['teacher', 'student_1', ..., 'student_N']``."""
    return ['teacher'] + [f'student_{j}' for j in range(1, num_students + 1)]


@LOOPS.register_module()
class SelfTrainingLoop(BaseLoop):
    """Teacher → N students on pseudo labels, one Runner, resumable per phase.

    Args:
        runner (Runner): The runner; its model must be a label-set detector such as
            :class:`mmcyclic.models.LabelSetMaskRCNN`.
        dataloader (dict): Training dataloader config. Its dataset's ``ann_file`` is
            the patch-level file of the training images; its annotations are
            *not* used — every phase trains on label sets. Its ``indices``
            (a budget: the first N patches, or a list) choose the training
            patches once, from the file as written: every phase trains on
            them (those holding a label of the phase) and M' is predicted on
            exactly them (``training_patches.json``).
        seed_file (str): Whole-image COCO seed set M (front-end seeds, or
            ``tools/make_gt_seeds.py`` output).
        num_students (int): Number of students N.
        teacher_epochs (int): Epochs of the teacher phase.
        student_epochs (int): Epochs of each student phase.
        alpha (float): Weight of L(M) in Eq. 2.
        score_thr (float, optional): Teacher predictions scoring below are not pseudo labels.
            None (default): the threshold the model is tested with (``test_evaluator.score_thr``;
            0.5, NucleiMetric's default, when it sets none), so M' is what the model outputs
            at test and inference.
        merge_iou (float): Patch stitching parameter for pseudo labels.
        union_iou_thr (float): A prediction overlapping an M mask at IoU >= this is
            not added to M (see :func:`union_label_sets`).
        backbone_checkpoint (str, optional): Classifier (or detector) checkpoint whose
            backbone initialises the teacher and every student.
        student_init (str): ``'initial'`` (fresh weights + backbone checkpoint) or
            ``'teacher'`` (continue from the teacher's weights).
        selection (str): ``'val_dice'`` or ``'agreement'`` (see the module docstring).
        out_dir (str): Folder under ``work_dir`` for this loop's files.
        initial_weights (str, optional): Checkpoint every phase starts from (before the
            backbone checkpoint is applied). By default the model's weights
            when the loop starts are saved and used; the cyclic loop passes
            one file so that every cycle starts from the same weights.
        allow_empty_pseudo_labels (bool): False (default): a phase whose model predicts no
            pseudo label on any training image stops the run with :class:`EmptyPseudoLabels`
            (naming the threshold and the highest score seen) instead of letting the next
            student train on M alone; True: train on with a warning.
    """

    def __init__(self,
                 runner,
                 dataloader: Dict[str, Any],
                 seed_file: str,
                 num_students: int = 3,
                 teacher_epochs: int = 4,
                 student_epochs: int = 4,
                 alpha: float = 0.66,
                 score_thr: Optional[float] = None,
                 merge_iou: float = 0.5,
                 union_iou_thr: float = 0.5,
                 backbone_checkpoint: Optional[str] = None,
                 student_init: str = 'initial',
                 selection: str = 'val_dice',
                 out_dir: str = 'self_training',
                 initial_weights: Optional[str] = None,
                 allow_empty_pseudo_labels: bool = False) -> None:
        self._runner = runner
        if student_init not in ('initial', 'teacher'):
            raise ConfigError(f"train_cfg.student_init must be 'initial' or 'teacher', got "
                              f'{student_init!r}')
        if selection not in ('val_dice', 'agreement'):
            raise ConfigError(f"train_cfg.selection must be 'val_dice' or 'agreement', got "
                              f'{selection!r}')
        check_values(dict(num_students=num_students, teacher_epochs=teacher_epochs,
                          student_epochs=student_epochs, alpha=alpha, score_thr=score_thr,
                          merge_iou=merge_iou, union_iou_thr=union_iou_thr),
                     SELF_TRAINING_RANGES, 'train_cfg')
        model = unwrap(runner.model)
        if not isinstance(model, LabelSetLossMixin):
            raise TypeError(
                f'self-training needs a label-set model (it weighs M and M\' per phase); '
                f'model.type is {type(model).__name__}. Use the back-end\'s label-set model: '
                'LabelSetMaskRCNN (_base_/weak_supervision.py label_set_model), LabelSetHoVerNet '
                '(_base_/hovernet.py hovernet_label_set_model) or LabelSetKGInstance '
                '(_base_/kg_instance.py kg_instance_label_set_model)')
        self.num_students = num_students
        self.teacher_epochs = teacher_epochs
        self.student_epochs = student_epochs
        self.alpha = alpha
        tested = evaluator_score_thr(runner.cfg)
        self.score_thr = score_thr if score_thr is not None else (
            tested if tested is not None else 0.5)
        self.allow_empty_pseudo_labels = allow_empty_pseudo_labels
        self.merge_iou = merge_iou
        self.backbone_checkpoint = backbone_checkpoint
        self.student_init = student_init
        self.selection = selection
        self.out_dir = osp.abspath(osp.join(runner.work_dir, out_dir))
        # Reads (and checks) the seed file and the patch file now, so a bad one fails before
        # any work; writes each phase's files when it is first used.
        self.round_files = RoundFiles(dataloader, seed_file, self.out_dir, union_iou_thr)
        self._state = StateFile(osp.join(self.out_dir, 'state.json'),
                                fresh=lambda: dict(epoch=0, iter=0, phases=[]),
                                stale=[osp.join(self.out_dir, 'initial_weights.pth')], indent=2)
        self.initial_weights = initial_weights
        self._max_epochs = teacher_epochs + num_students * student_epochs
        self._epoch = 0
        self._iter = 0
        self._phase: Optional[str] = None
        self.stop_training = False
        self.summary: Dict[str, Any] = {}
        self._dataloader = None

    @property
    def dataloader(self):
        """The current phase's training dataloader.

        The Runner reads its length before :meth:`run` (by-epoch schedulers), so the first
        access builds the teacher's, writing the training patches and the teacher's round
        files then (once: the teacher phase trains on them) rather than in the constructor.
        """
        if self._dataloader is None:
            teacher_file, _ = self.round_files.write('teacher', 0,
                                                     *self.round_files.label_sets(None))
            self._dataloader = self.round_files.train_dataloader(self.runner, teacher_file)
        return self._dataloader

    @dataloader.setter
    def dataloader(self, dataloader) -> None:
        self._dataloader = dataloader

    # -- the counters mmengine's hooks read ---------------------------------
    @property
    def max_epochs(self) -> int:
        """Epochs of the teacher and all students."""
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        """Iterations of the finished phases plus an estimate for the rest."""
        return self._iter + (self._max_epochs - self._epoch) * len(self.dataloader)

    @property
    def epoch(self) -> int:
        """Epochs finished, over all phases."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Iterations finished, over all phases."""
        return self._iter

    # -- the loop -------------------------------------------------------------
    def run(self) -> torch.nn.Module:
        """Run the teacher and the students, skipping phases finished earlier."""
        self.runner.call_hook('before_train')
        self.run_phases()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_phases(self) -> Dict[str, Any]:
        """The phases without the ``before_train``/``after_train`` hooks.

        The cyclic loop calls this once per cycle inside its own training run.

        Returns:
            The summary also written to ``self_training.json``.
        """
        state = self._load_state()
        self.round_files.write_training_patches()
        self._epoch, self._iter = state['epoch'], state['iter']
        initial_weights = self.initial_weights or osp.join(self.out_dir, 'initial_weights.pth')
        if not osp.isfile(initial_weights):
            save_weights(self.runner, initial_weights)
        self._initial_state = read_state_dict(initial_weights)

        done = {phase['name']: phase for phase in state['phases']}
        if done:
            self.runner.logger.info(f'self-training: resuming; finished phases: {", ".join(done)}')
        phases = phases_of(self.num_students)
        for index, name in enumerate(phases):
            if name in done:
                continue
            record = self._run_phase(name, phases[index - 1] if index else None)
            state['phases'].append(record)
            done[name] = record
            state.update(epoch=self._epoch, iter=self._iter)
            self._state.write(state)
            if self.stop_training or getattr(self.runner.train_loop, 'stop_training', False):
                self.runner.logger.info(f'self-training: stop_training set after {name}: '
                                        'no further phase')
                break
        self.summary = write_selection(state['phases'], self.selection, self.alpha,
                                       self.out_dir, self.runner.logger)
        return self.summary

    def _run_phase(self, name: str, previous: Optional[str]) -> dict:
        """Train phase ``name`` on M (and M' of ``previous``), validate, predict the next M'."""
        m_set, m_prime = self.round_files.label_sets(previous)
        teacher = previous is None
        weights = (1.0, 0.0) if teacher else (self.alpha, 1.0 - self.alpha)
        round_index = 0 if teacher else int(name.split('_')[1])
        # Each phase draws its crops and flips from its own seed, so a phase
        # rerun after --resume trains exactly as it would have without the kill.
        set_random_seed(self.runner.seed + round_index)
        train_file, union_counts = self.round_files.write(name, round_index, m_set, m_prime)
        self._init_weights(name, previous)

        self._phase = name
        self._unwrapped_model().label_set_weights = weights
        empty = m_set.count_empty_images()
        if empty:
            self.runner.logger.warning(
                f'self-training {name}: {empty} of {len(m_set.images)} images have no label in M '
                '(their patches train only through M\' where it exists)')
        self.runner.logger.info(
            f'self-training {name}: {len(m_set.annotations)} instances in M'
            + (f', {len(m_prime.annotations)} in M\'' if m_prime else '') + f', weights {weights}')
        self._train_epochs(train_file, self.teacher_epochs if teacher else self.student_epochs)
        phase_dir = self.round_files.phase_dir(name)
        checkpoint = osp.join(phase_dir, 'checkpoint.pth')
        self.runner.save_checkpoint(phase_dir, 'checkpoint.pth', save_optimizer=False,
                                    save_param_scheduler=False)
        record = dict(name=name, round=round_index, checkpoint=checkpoint, weights=list(weights),
                      num_M=len(m_set.annotations),
                      num_M_prime=len(m_prime.annotations) if m_prime else 0,
                      images_without_M=empty, **union_counts)
        record.update(self._validate())
        # The model just trained is the next teacher: it predicts the next M' (and is scored
        # by its agreement with its own teacher's predictions).
        record.update(write_pseudo_labels(
            self.runner, self.round_files.predict_dataloader_cfg(self.runner.cfg.val_dataloader),
            m_set, osp.join(phase_dir, 'predictions.json'), round_index, self.score_thr,
            self.merge_iou, teacher_file=None if teacher else osp.join(
                self.round_files.phase_dir(previous), 'predictions.json')))
        if (record['num_predicted'] == 0 and name != phases_of(self.num_students)[-1]
                and not self.allow_empty_pseudo_labels):
            raise EmptyPseudoLabels(
                f'self-training {name}: the model predicted no pseudo label at score >= '
                f'{self.score_thr} on any of the training images (highest score seen: '
                f'{record["max_score"]}), so the next student would train on M alone. Lower '
                'the pseudo-label threshold (train_cfg[.self_training].score_thr) below that '
                'score, train longer, or set allow_empty_pseudo_labels=True to train on.')
        self.runner.logger.info(f'self-training {name} done: ' + ', '.join(
            f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}' for k, v in record.items()
            if k not in ('checkpoint', 'weights')))
        return record

    def _init_weights(self, name: str, previous: Optional[str]) -> None:
        model = self._unwrapped_model()
        if name != 'teacher' and self.student_init == 'teacher':
            load_checkpoint(model, osp.join(self.out_dir, previous, 'checkpoint.pth'),
                            map_location='cpu', strict=True, logger='silent')
            return
        model.load_state_dict(self._initial_state)
        if self.backbone_checkpoint:
            load_backbone(model, self.backbone_checkpoint)

    def _train_epochs(self, train_file: str, epochs: int) -> None:
        runner = self.runner
        self.dataloader = self.round_files.train_dataloader(runner, train_file)
        runner.optim_wrapper = runner.build_optim_wrapper(copy.deepcopy(runner.cfg.optim_wrapper))
        if runner.cfg.get('param_scheduler') is not None:
            runner.param_schedulers = runner.build_param_scheduler(
                copy.deepcopy(runner.cfg.param_scheduler))
        runner.optim_wrapper.initialize_count_status(runner.model, 0, epochs * len(self.dataloader))
        for _ in range(epochs):
            try:
                self._run_epoch()
            except TrainingDiverged as error:
                raise TrainingDiverged(f'self-training {self._phase} diverged in epoch '
                                       f'{self._epoch + 1}: {error}') from error

    def _run_epoch(self) -> None:
        runner = self.runner
        runner.call_hook('before_train_epoch')
        runner.model.train()
        for idx, data_batch in enumerate(self.dataloader):
            runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
            outputs = runner.model.train_step(data_batch, optim_wrapper=runner.optim_wrapper)
            runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch,
                             outputs=outputs)
            self._iter += 1
        runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _validate(self) -> Dict[str, float]:
        """The runner's validation metrics as ``val_<metric>`` (none without a val loop)."""
        if self.runner.val_loop is None:
            return {}
        metrics = self.runner.val_loop.run()
        out = {k.split('/')[-1]: float(v) for k, v in metrics.items()
               if isinstance(v, (int, float, np.floating))}
        self.runner.visualizer.add_scalars(
            {f'self_training/{k}': v for k, v in out.items()}, step=self._epoch)
        return {f'val_{k}': v for k, v in out.items()}

    def _unwrapped_model(self) -> torch.nn.Module:
        return unwrap(self.runner.model)

    def _load_state(self) -> dict:
        """Finished phases to skip (with ``--resume``), else a fresh start."""
        state = self._state.load(self.runner.cfg.get('resume', False))
        if state['phases']:
            self.runner.logger.info(f'self-training: resuming from {self._state.path}')
            load_checkpoint(self._unwrapped_model(), state['phases'][-1]['checkpoint'],
                            map_location='cpu', strict=True, logger='silent')
        return state
