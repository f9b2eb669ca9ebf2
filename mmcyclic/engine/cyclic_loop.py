"""Cyclic learning (paper §III-C, Fig. 1) as an MMEngine train loop.

One cycle ``i`` is four units, read like Fig. 1 in :meth:`CyclicLoop._run_cycle`;
each finished unit is recorded in ``<work_dir>/cyclic_state.json`` so that
``--resume`` continues after the last one (and, inside a unit, after the last
classifier epoch or self-training phase):

1. **classifier** (:class:`~.classifier_step.ClassifierStep`) — the mmpretrain
   classifier f^C is trained by a child Runner in ``cycle_i/classifier/``.
   Cycle 1 starts from the classifier config's own initialisation; cycle
   ``i > 1`` from what cycle ``i-1`` handed back (unit 4).
2. **seeds** (:class:`~.seed_step.SeedStep`) — fresh seeds from f^C's
   relevance maps on the whole training images (``cycle_i/seeds.json``);
   back-end predictions are not carried over. ``seeds.source='ground_truth'``
   uses K ground-truth nuclei per image instead (Table V, uses pixel labels).
3. **self_training** — :class:`SelfTrainingLoop` in ``cycle_i/``; its best
   model (teacher or student, ``cycle_i/best_student.pth``) is the cycle's
   result.
4. **hand_back** (:class:`~.hand_back_step.HandBackStep`) — the classifier
   the next cycle starts from (``cycle_i/next_classifier.pth``).

The loop keeps the orchestration, the state file and the counters; the units
hold the work.

Which weights cross between the ends is the ``mode`` (paper §V-D, Table IV):

============  ====================================  ==========================================
mode          f^C backbone → f^S (unit 3)           best f^S backbone → next f^C (unit 4)
============  ====================================  ==========================================
bilateral     yes: teacher and students start       yes: the next classifier is this one with
              from the detector's initial weights   the best f^S's backbone
              plus f^C's backbone
unilateral    no: the detector's initial weights    yes
seeds_only    no                                    no: the next classifier continues from this
                                                    one; only the seeds link the two ends
============  ====================================  ==========================================

``unilateral``'s first cycle is the paper's "straightforward combination" of a
CNN interpreting method and self-training from pseudo seeds; ``seeds_only``
keeps that combination for every cycle.

The cycle stops after ``max_cycles`` or, with ``min_improvement`` set, when ``patience``
cycles in a row have not raised the best validation Dice so far by at least
``min_improvement`` (:func:`stalled_cycles`; the paper's Table III series, best Dice per
cycle 0.7181, 0.7484, 0.7369, 0.7739, 0.7695, dips in cycle 3 and peaks in cycle 4). Side
effects live in hooks called at the custom points ``after_seed_extraction``
and ``after_cycle`` (see :mod:`.cyclic_hooks`).
"""
import copy
import inspect
import os.path as osp
from typing import Any, Dict, List, Optional

import torch
from mmdet.registry import LOOPS
from mmengine.runner import BaseLoop, load_checkpoint

from mmcyclic.utils.config import ConfigError, check_keys, constructor_arguments

from .backbone_match import check_backbones_match
from .classifier_step import ClassifierStep
from .hand_back_step import HandBackStep
from .loop_state import StateFile, save_weights, unwrap
from .seed_step import SeedStep
from .self_training_loop import SelfTrainingLoop
from .value_ranges import CYCLIC_RANGES, SELF_TRAINING_RANGES, check_values

# mode -> (f^C backbone initialises f^S, best f^S backbone initialises the next f^C)
SHARING = {'bilateral': (True, True), 'unilateral': (False, True), 'seeds_only': (False, False)}
MODES = tuple(SHARING)
CLASSIFIER_KEYS = ('config', 'cfg_options')
# SelfTrainingLoop arguments that the cycle sets itself.
SET_BY_THE_CYCLE = ('runner', 'dataloader', 'seed_file', 'out_dir', 'initial_weights',
                    'backbone_checkpoint')


def stalled_cycles(scores: List[Optional[float]], min_improvement: float) -> int:
    """How many of the last cycles in a row did not improve on the best before them.

    Args:
        scores (list[float | None]): Validation Dice of each cycle's selected model, in order
            (None: not validated; such a cycle neither improves nor stalls the count).
        min_improvement (float): A cycle improves when its score exceeds the best earlier
            score by at least this.

    Returns:
        int: 0 when the last scored cycle improved (or is the first), else the length of the
        run of non-improving scored cycles at the end.
    """
    best, stalled = None, 0
    for score in scores:
        if score is None:
            continue
        if best is None or score - best >= min_improvement:
            stalled = 0
        else:
            stalled += 1
        best = score if best is None else max(best, score)
    return stalled


@LOOPS.register_module()
class CyclicLoop(BaseLoop):
    """Front-end classifier → seeds → self-training, repeated with weight sharing.

    Args:
        runner (Runner): The detector's runner; its model is a label-set detector
            (:class:`mmcyclic.models.LabelSetMaskRCNN`) whose backbone is the
            same registered module as the classifier's.
        dataloader (dict): The detector's training dataloader config (patches of the
            training images), handed to :class:`SelfTrainingLoop`.
        classifier (dict): ``dict(config=PATH, cfg_options=dict(...))``: the
            classifier's full mmpretrain config (trainable alone with
            ``tools/train.py``). A relative path is looked up from the
            current folder, then beside the cyclic config.
        self_training (dict): Keyword arguments of :class:`SelfTrainingLoop`
            (``num_students``, ``teacher_epochs``, ``alpha``, ...).
        seeds (dict, optional): Seed extraction: ``images_ann`` (whole-image COCO file of the
            training images, default ``<data_root>/annotations/instances_train_full.json``),
            ``source`` (``'relevance'`` or ``'ground_truth'``), ``k`` (for
            ground truth), ``relevance`` (default: the classifier config's),
            ``recipe``,
            ``tile_size``, ``min_overlap``, ``batch_size``, ``image_scale``,
            ``keep_relevance`` (save the maps as ``cycle_i/relevance/*.npy``).
            ``recipe`` keys override the classifier config's ``seed_recipe``
            one by one (the rest is kept).
        max_cycles (int): Most cycles to run (the paper converges in about 4).
        mode (str): ``'bilateral'``, ``'unilateral'`` or ``'seeds_only'`` (see the
            module docstring's table).
        min_improvement (float, optional): A cycle improves when its validation Dice exceeds
            the best of the earlier cycles by at least this (None: never stop early; run
            ``max_cycles``).
        patience (int): Stop after this many cycles in a row that did not improve (only with
            ``min_improvement``).
    """

    def __init__(self,
                 runner,
                 dataloader: Dict[str, Any],
                 classifier: Dict[str, Any],
                 self_training: Dict[str, Any],
                 seeds: Optional[Dict[str, Any]] = None,
                 max_cycles: int = 4,
                 mode: str = 'bilateral',
                 min_improvement: Optional[float] = None,
                 patience: int = 2) -> None:
        self._runner = runner
        if mode not in MODES:
            raise ConfigError(f'train_cfg.mode must be one of {MODES}, got {mode!r}')
        if 'backbone_checkpoint' in self_training:
            raise ConfigError('train_cfg.self_training.backbone_checkpoint is set by the cycle '
                              "(the classifier's backbone, in mode='bilateral'); remove it")
        if 'config' not in classifier:
            raise ConfigError('train_cfg.classifier needs config=PATH of the classifier config, '
                              "e.g. classifier=dict(config='configs/classifier_r50_monu.py')")
        check_keys(classifier, CLASSIFIER_KEYS, 'train_cfg.classifier')
        check_keys(self_training, set(constructor_arguments(SelfTrainingLoop))
                   - set(SET_BY_THE_CYCLE), 'train_cfg.self_training')
        check_values(dict(max_cycles=max_cycles), CYCLIC_RANGES, 'train_cfg')
        check_values(self_training, SELF_TRAINING_RANGES, 'train_cfg.self_training')
        if patience < 1:
            raise ConfigError(f'train_cfg.patience must be >= 1, got {patience}')
        self.dataloader_cfg = copy.deepcopy(dataloader)
        self.self_training_cfg = dict(self_training)
        # The units of Fig. 1 (self-training: a SelfTrainingLoop per cycle, see _self_train).
        self.classifier = ClassifierStep(runner, **classifier)
        if any(SHARING[mode]):  # before any work: weights are to cross between the ends
            check_backbones_match(unwrap(runner.model), runner.cfg.model.get('backbone', {}),
                                  self.classifier.load_config(), self.classifier.config)
        self.seeds = SeedStep(runner, seeds, self.classifier.load_config,
                              self.dataloader_cfg['dataset'].get('data_root', ''))
        self.hand_back = HandBackStep(runner, mode, share_backbone=SHARING[mode][1])
        self.max_cycles = max_cycles
        self.mode = mode
        self.min_improvement = min_improvement
        self.patience = patience
        self.records: List[Dict[str, Any]] = []
        self._active: Optional[SelfTrainingLoop] = None
        self._epoch_offset = 0
        self._iter_offset = 0
        self.stop_training = False
        self._state = StateFile(osp.join(self._work_dir, 'cyclic_state.json'),
                                fresh=lambda: dict(cycles=[], units={}),
                                stale=[osp.join(self._work_dir, 'initial_weights.pth')])
        self._placeholder_loader = None

    @property
    def dataloader(self):
        """The running phase's dataloader (``DistSamplerSeedHook`` sets its epoch).

        Outside a cycle (the Runner reads its length before :meth:`run`: by-epoch
        schedulers), the detector's training dataloader, built on first access.
        """
        if self._active:
            return self._active.dataloader
        if self._placeholder_loader is None:
            self._placeholder_loader = self.runner.build_dataloader(
                copy.deepcopy(self.dataloader_cfg), seed=self.runner.seed)
        return self._placeholder_loader

    # -- counters read by mmengine's hooks ------------------------------------
    @property
    def epoch(self) -> int:
        """Self-training epochs finished, over all cycles."""
        return self._epoch_offset + (self._active.epoch if self._active else 0)

    @property
    def iter(self) -> int:
        """Self-training iterations finished, over all cycles."""
        return self._iter_offset + (self._active.iter if self._active else 0)

    @property
    def max_epochs(self) -> int:
        """Self-training epochs of all cycles (``SelfTrainingLoop``'s defaults where unset)."""
        st = {name: p.default for name, p in inspect.signature(SelfTrainingLoop).parameters.items()}
        st.update(self.self_training_cfg)
        return (st['teacher_epochs'] + st['num_students'] * st['student_epochs']) * self.max_cycles

    @property
    def max_iters(self) -> int:
        """An estimate: :attr:`max_epochs` times the current dataloader's length."""
        return self.max_epochs * len(self.dataloader)

    @property
    def cycle(self) -> int:
        """The cycle running now (1-based), or the last one run."""
        return len(self.records) + (1 if self._active else 0)

    # -- the loop ---------------------------------------------------------------
    def run(self) -> torch.nn.Module:
        """Run the cycles, skipping units finished earlier; the model ends as the best one."""
        runner = self.runner
        runner.call_hook('before_train')
        state = self._state.load(self.runner.cfg.get('resume', False))
        if state['cycles'] or state['units']:
            next_units = list(state['units'].get(str(len(state['cycles']) + 1), {}))
            runner.logger.info(
                f'cyclic: resuming from {self._state.path}: {len(state["cycles"])} cycles done, '
                f'units done in the next: {next_units}')
        self.records = state['cycles']
        initial_weights = osp.join(self._work_dir, 'initial_weights.pth')
        if not osp.isfile(initial_weights):
            save_weights(runner, initial_weights)
        for cycle in range(len(self.records) + 1, self.max_cycles + 1):
            record = self._run_cycle(cycle, state, initial_weights)
            self.records.append(record)
            state['units'].pop(str(cycle), None)
            self._state.write(state)
            runner.call_hook('after_cycle', cycle=cycle, records=self.records)
            if self._converged():
                runner.logger.info(
                    f'cyclic: {self.patience} cycles in a row did not raise the best validation '
                    f'Dice by {self.min_improvement}; stopping after cycle {cycle}')
                break
            if self.stop_training:
                runner.logger.info(f'cyclic: stop_training set (e.g. by an early-stopping hook) '
                                   f'in cycle {cycle}: stopping')
                break
        best = self.best_record()
        if best is not None:
            load_checkpoint(self._model(), best['best_checkpoint'], map_location='cpu',
                            strict=True, logger='silent')
            runner.logger.info(f'cyclic: best student is cycle {best["cycle"]} '
                               f'{best["selected"]} (val Dice {best.get("val_pixel_dice")})')
        runner.call_hook('after_train')
        return runner.model

    def _run_cycle(self, cycle: int, state: dict, initial_weights: str) -> Dict[str, Any]:
        """Fig. 1: classifier → seeds → self-training → hand-back, each a resumable unit."""
        units = state['units'].setdefault(str(cycle), {})
        cycle_dir = self._cycle_dir(cycle)
        self.runner.logger.info(f'cyclic: cycle {cycle}/{self.max_cycles} ({self.mode})')
        if 'classifier' not in units:
            # Cycle 1: the classifier config's own init; cycle i > 1: what cycle i-1 handed back.
            init = self.records[-1]['hand_back']['checkpoint'] if self.records else None
            units['classifier'] = self.classifier(cycle, osp.join(cycle_dir, 'classifier'), init)
            self._state.write(state)
        classifier = units['classifier']['checkpoint']
        if 'seeds' not in units:
            units['seeds'] = self.seeds(cycle, classifier, cycle_dir)
            self._state.write(state)
        summary = self._self_train(cycle, classifier, initial_weights)
        best = osp.join(cycle_dir, 'best_student.pth')
        if 'hand_back' not in units and cycle < self.max_cycles:
            units['hand_back'] = self.hand_back(cycle, classifier, best, cycle_dir)
            self._state.write(state)
        selected = summary['selected']
        phases = {p['name']: p for p in summary['phases']}
        best_metrics = {k: v for k, v in phases.get(selected, {}).items() if k.startswith('val_')}
        return dict(cycle=cycle, mode=self.mode, classifier=units['classifier'],
                    seeds=units['seeds'], selected=selected, selected_by=summary['selected_by'],
                    selection_scores=summary['selection_scores'], best_checkpoint=best,
                    hand_back=units.get('hand_back'), phases=summary['phases'],
                    epoch=self.epoch, iter=self.iter, **best_metrics)

    # -- unit 3: self-training ------------------------------------------------------
    def _self_train(self, cycle: int, classifier_checkpoint: str,
                    initial_weights: str) -> Dict[str, Any]:
        previous = self.records[-1] if self.records else None
        self._epoch_offset = previous['epoch'] if previous else 0
        self._iter_offset = previous['iter'] if previous else 0
        front_to_back, _ = SHARING[self.mode]
        kwargs = dict(self.self_training_cfg,
                      backbone_checkpoint=classifier_checkpoint if front_to_back else None)
        loop = SelfTrainingLoop(
            self.runner, self.dataloader_cfg,
            seed_file=osp.join(self._cycle_dir(cycle), 'seeds.json'),
            out_dir=osp.relpath(self._cycle_dir(cycle), self._work_dir),
            initial_weights=initial_weights, **kwargs)
        self._active = loop
        try:
            summary = loop.run_phases()
        finally:
            self._epoch_offset += loop.epoch
            self._iter_offset += loop.iter
            self._active = None
        return summary

    # -- stopping and selection ---------------------------------------------------
    def _converged(self) -> bool:
        if self.min_improvement is None:
            return False
        scores = [r.get('val_pixel_dice') for r in self.records]
        return stalled_cycles(scores, self.min_improvement) >= self.patience

    def best_record(self) -> Optional[Dict[str, Any]]:
        """The cycle whose selected student has the highest validation Dice
        (the last cycle when no validation ran)."""
        scored = [r for r in self.records if r.get('val_pixel_dice') is not None
                  and osp.isfile(r['best_checkpoint'])]
        if scored:
            return max(scored, key=lambda r: r['val_pixel_dice'])
        done = [r for r in self.records if osp.isfile(r['best_checkpoint'])]
        return done[-1] if done else None

    # -- state ------------------------------------------------------------------------
    @property
    def _work_dir(self) -> str:
        return osp.abspath(self.runner.work_dir)

    def _cycle_dir(self, cycle: int) -> str:
        return osp.join(self._work_dir, f'cycle_{cycle}')

    def _model(self) -> torch.nn.Module:
        return unwrap(self.runner.model)
