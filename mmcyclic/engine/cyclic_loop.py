"""Cyclic learning (paper §III-C, Fig. 1) as an MMEngine train loop.

One cycle ``i`` is four units, read like Fig. 1 in :meth:`CyclicLoop._run_cycle`;
each finished unit is recorded in ``<work_dir>/cyclic_state.json`` so that
``--resume`` continues after the last one (and, inside a unit, after the last
classifier epoch or self-training phase):

1. **classifier** — the mmpretrain classifier f^C is trained by a child
   Runner in ``cycle_i/classifier/``. Cycle 1 starts from the classifier
   config's own initialisation; cycle ``i > 1`` from what cycle ``i-1`` handed
   back (unit 4).
2. **seeds** — fresh seeds from f^C's relevance maps on the whole training
   images (``cycle_i/seeds.json``); back-end predictions are not carried
   over. ``seeds.source='ground_truth'`` uses K ground-truth nuclei per image
   instead (Table V, uses pixel labels).
3. **self_training** — :class:`SelfTrainingLoop` in ``cycle_i/``; its best
   model (teacher or student, ``cycle_i/best_student.pth``) is the cycle's
   result.
4. **hand_back** — the classifier the next cycle starts from
   (``cycle_i/next_classifier.pth``).

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

The cycle stops after ``max_cycles`` or when the selected model's validation
Dice improves on the previous cycle's by less than ``min_improvement``. Side
effects live in hooks called at the custom points ``after_seed_extraction``
and ``after_cycle`` (see :mod:`.cyclic_hooks`).
"""
import copy
import dataclasses
import os.path as osp
from typing import Any, Dict, List, Optional

import torch
from mmdet.registry import LOOPS
from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list, get_rank, get_world_size
from mmengine.registry import DefaultScope
from mmengine.runner import BaseLoop, Runner, load_checkpoint, set_random_seed

from mmcyclic.datasets.label_sets import load_image_infos, subsample_ground_truth
from mmcyclic.models.backbone_transfer import classifier_with_backbone_of
from mmcyclic.seeds import SeedRecipe, extract_seed_set, load_classifier
from mmcyclic.seeds.recipe import SeedRecipeConfig
from mmcyclic.utils.atomic import atomic_open
from mmcyclic.utils.config import (ConfigError, adapt_to_machine, check_keys, constructor_arguments,
                                   load_config)

from .child_runner import outer_instances_stay_current
from .loop_state import StateFile, save_weights, unwrap
from .self_training_loop import SelfTrainingLoop

# mode -> (f^C backbone initialises f^S, best f^S backbone initialises the next f^C)
SHARING = {'bilateral': (True, True), 'unilateral': (False, True), 'seeds_only': (False, False)}
MODES = tuple(SHARING)
SEED_SOURCES = ('relevance', 'ground_truth')
SEEDS_KEYS = ('images_ann', 'source', 'k', 'relevance', 'recipe', 'tile_size', 'min_overlap',
              'batch_size', 'image_scale', 'keep_relevance')
CLASSIFIER_KEYS = ('config', 'cfg_options')
SEED_RECIPE_KEYS = tuple(f.name for f in dataclasses.fields(SeedRecipeConfig))
# SelfTrainingLoop arguments that the cycle sets itself.
SET_BY_THE_CYCLE = ('runner', 'dataloader', 'seed_file', 'out_dir', 'initial_weights',
                    'backbone_checkpoint')


@LOOPS.register_module()
class CyclicLoop(BaseLoop):
    """Front-end classifier → seeds → self-training, repeated with weight sharing.

    Args:
        runner: The detector's runner; its model is a label-set detector
            (:class:`mmcyclic.models.LabelSetMaskRCNN`) whose backbone is the
            same registered module as the classifier's.
        dataloader: The detector's training dataloader config (patches of the
            training images), handed to :class:`SelfTrainingLoop`.
        classifier: ``dict(config=PATH, cfg_options=dict(...))``: the
            classifier's full mmpretrain config (trainable alone with
            ``tools/train.py``). A relative path is looked up from the
            current folder, then beside the cyclic config.
        self_training: Keyword arguments of :class:`SelfTrainingLoop`
            (``num_students``, ``teacher_epochs``, ``alpha``, ...).
        seeds: Seed extraction: ``images_ann`` (whole-image COCO file of the
            training images, default ``<data_root>/annotations/instances_train_full.json``),
            ``source`` (``'relevance'`` or ``'ground_truth'``), ``k`` (for
            ground truth), ``relevance`` (default: the classifier config's),
            ``recipe``,
            ``tile_size``, ``min_overlap``, ``batch_size``, ``image_scale``,
            ``keep_relevance`` (save the maps as ``cycle_i/relevance/*.npy``).
            ``recipe`` keys override the classifier config's ``seed_recipe``
            one by one (the rest is kept).
        max_cycles: Most cycles to run (the paper converges in about 4).
        mode: ``'bilateral'``, ``'unilateral'`` or ``'seeds_only'`` (see the
            module docstring's table).
        min_improvement: Stop when a cycle's validation Dice exceeds the
            previous cycle's by less than this (None: run ``max_cycles``).
    """

    def __init__(self,
                 runner,
                 dataloader: Dict[str, Any],
                 classifier: Dict[str, Any],
                 self_training: Dict[str, Any],
                 seeds: Optional[Dict[str, Any]] = None,
                 max_cycles: int = 4,
                 mode: str = 'bilateral',
                 min_improvement: Optional[float] = None) -> None:
        self._runner = runner
        if mode not in MODES:
            raise ConfigError(f'train_cfg.mode must be one of {MODES}, got {mode!r}')
        if 'backbone_checkpoint' in self_training:
            raise ConfigError('train_cfg.self_training.backbone_checkpoint is set by the cycle '
                              "(the classifier's backbone, in mode='bilateral'); remove it")
        if 'config' not in classifier:
            raise ConfigError('train_cfg.classifier needs config=PATH of the classifier config, '
                              "e.g. classifier=dict(config='configs/classifier_r50_monu.py')")
        self.seeds_cfg = dict(seeds or {})
        if self.seeds_cfg.get('source', 'relevance') not in SEED_SOURCES:
            raise ConfigError(f'train_cfg.seeds.source must be one of {SEED_SOURCES}')
        check_keys(classifier, CLASSIFIER_KEYS, 'train_cfg.classifier')
        check_keys(self.seeds_cfg, SEEDS_KEYS, 'train_cfg.seeds')
        check_keys(self.seeds_cfg.get('recipe') or {}, SEED_RECIPE_KEYS, 'train_cfg.seeds.recipe')
        check_keys(self_training, set(constructor_arguments(SelfTrainingLoop))
                   - set(SET_BY_THE_CYCLE), 'train_cfg.self_training')
        if max_cycles < 1:
            raise ValueError(f'CyclicLoop: max_cycles must be >= 1, got {max_cycles}')
        self.dataloader_cfg = copy.deepcopy(dataloader)
        self.classifier_cfg = dict(classifier)
        self.self_training_cfg = dict(self_training)
        # Values too, before any work: the merged recipe of the classifier config and seeds.recipe.
        self.seed_recipe = self._seed_recipe()
        self.max_cycles = max_cycles
        self.mode = mode
        self.min_improvement = min_improvement
        self.records: List[Dict[str, Any]] = []
        self._active: Optional[SelfTrainingLoop] = None
        self._epoch_offset = 0
        self._iter_offset = 0
        self.stop_training = False
        self._state = StateFile(osp.join(self._work_dir, 'cyclic_state.json'),
                                fresh=lambda: dict(cycles=[], units={}),
                                stale=[osp.join(self._work_dir, 'initial_weights.pth')])
        # The Runner asks for a dataloader before run() (schedulers read its
        # length); during a cycle the self-training loop's own is the one hooks see.
        self._placeholder_loader = runner.build_dataloader(copy.deepcopy(dataloader),
                                                           seed=runner.seed)

    @property
    def dataloader(self):
        """The running phase's dataloader (``DistSamplerSeedHook`` sets its epoch)."""
        return self._active.dataloader if self._active else self._placeholder_loader

    # -- counters read by mmengine's hooks ------------------------------------
    @property
    def epoch(self) -> int:
        return self._epoch_offset + (self._active.epoch if self._active else 0)

    @property
    def iter(self) -> int:
        return self._iter_offset + (self._active.iter if self._active else 0)

    @property
    def max_epochs(self) -> int:
        st = self.self_training_cfg
        per_cycle = st.get('teacher_epochs', 4) + st.get('num_students', 3) * st.get(
            'student_epochs', 4)
        return per_cycle * self.max_cycles

    @property
    def max_iters(self) -> int:
        return self.max_epochs * len(self.dataloader)

    @property
    def cycle(self) -> int:
        """The cycle running now (1-based), or the last one run."""
        return len(self.records) + (1 if self._active else 0)

    # -- the loop ---------------------------------------------------------------
    def run(self) -> torch.nn.Module:
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
                runner.logger.info(f'cyclic: validation Dice improved by less than '
                                   f'{self.min_improvement} in cycle {cycle}: stopping')
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
        self.runner.logger.info(f'cyclic: cycle {cycle}/{self.max_cycles} ({self.mode})')
        if 'classifier' not in units:
            units['classifier'] = self._train_classifier(cycle)
            self._state.write(state)
        classifier = units['classifier']['checkpoint']
        if 'seeds' not in units:
            units['seeds'] = self._make_seeds(cycle, classifier)
            self._state.write(state)
        summary = self._self_train(cycle, classifier, initial_weights)
        best = osp.join(self._cycle_dir(cycle), 'best_student.pth')
        if 'hand_back' not in units and cycle < self.max_cycles:
            units['hand_back'] = self._hand_back(cycle, classifier, best)
            self._state.write(state)
        selected = summary['selected']
        phases = {p['name']: p for p in summary['phases']}
        best_metrics = {k: v for k, v in phases.get(selected, {}).items() if k.startswith('val_')}
        return dict(cycle=cycle, mode=self.mode, classifier=units['classifier'],
                    seeds=units['seeds'], selected=selected, selected_by=summary['selected_by'],
                    selection_scores=summary['selection_scores'], best_checkpoint=best,
                    hand_back=units.get('hand_back'), phases=summary['phases'],
                    epoch=self.epoch, iter=self.iter, **best_metrics)

    # -- unit 1: the classifier -------------------------------------------------
    def _train_classifier(self, cycle: int) -> Dict[str, Any]:
        out_dir = osp.join(self._cycle_dir(cycle), 'classifier')
        cfg = self._classifier_config()
        cfg.work_dir = out_dir
        cfg.experiment_name = f'{self.runner.experiment_name}_cycle{cycle}_classifier'
        cfg.randomness = dict(seed=self.runner.seed + 1000 * cycle)
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='ReseedEpochHook')]
        resumable = self.runner.cfg.get('resume', False) and osp.isfile(
            osp.join(out_dir, 'last_checkpoint'))
        if resumable:
            cfg.resume, cfg.load_from = True, None
        else:
            cfg.resume, cfg.load_from = False, self._classifier_init(cycle)
        cfg.launcher = self.runner.launcher
        adapt_to_machine(cfg)
        self.runner.logger.info(
            f'cyclic: cycle {cycle} classifier in {out_dir} '
            + ('(resuming)' if resumable else f'(init: {cfg.load_from or "config"})'))
        with outer_instances_stay_current(self.runner), \
                DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
            child = Runner.from_cfg(cfg)
            child.train()
            metrics = child.val_loop.run() if child.val_loop is not None else {}
            checkpoint = osp.join(out_dir, 'classifier.pth')
            child.save_checkpoint(out_dir, 'classifier.pth', save_optimizer=False,
                                  save_param_scheduler=False)
        barrier()
        # mmpretrain reports accuracy, precision, recall and F1 in percent.
        return dict(checkpoint=checkpoint, init=cfg.load_from,
                    **{k.split('/')[-1]: float(v) / 100 for k, v in metrics.items()
                       if isinstance(v, (int, float))})

    def _classifier_init(self, cycle: int) -> Optional[str]:
        """Cycle 1: the classifier config's own init; cycle i > 1: what cycle i-1 handed back."""
        return None if cycle == 1 else self.records[cycle - 2]['hand_back']['checkpoint']

    def _seed_recipe(self) -> SeedRecipe:
        """The classifier config's ``seed_recipe`` overridden key by key by ``seeds.recipe``."""
        merged = {**self._classifier_config().get('seed_recipe', {}),
                  **(self.seeds_cfg.get('recipe') or {})}
        try:
            return SeedRecipe(merged)
        except (TypeError, ValueError) as error:
            raise ConfigError(f'train_cfg.seeds.recipe: {error}') from error

    def _classifier_config(self) -> Config:
        path = self.classifier_cfg['config']
        if not osp.isfile(path) and self.runner.cfg.filename:
            beside = osp.join(osp.dirname(self.runner.cfg.filename), path)
            path = beside if osp.isfile(beside) else path
        return load_config(path, copy.deepcopy(self.classifier_cfg.get('cfg_options')))

    # -- unit 2: seeds ------------------------------------------------------------
    def _make_seeds(self, cycle: int, classifier_checkpoint: str) -> Dict[str, Any]:
        out = osp.join(self._cycle_dir(cycle), 'seeds.json')
        images_ann = self._images_ann()
        data_root = osp.dirname(osp.dirname(osp.abspath(images_ann)))
        record: List[Dict[str, Any]] = [{}]
        if get_rank() == 0:
            if self.seeds_cfg.get('source', 'relevance') == 'ground_truth':
                record[0] = self._ground_truth_seeds(cycle, images_ann, out)
            else:
                record[0] = self._relevance_seeds(cycle, classifier_checkpoint, images_ann,
                                                  data_root, out)
        broadcast_object_list(record)
        barrier()
        return record[0]

    def _relevance_seeds(self, cycle: int, classifier_checkpoint: str, images_ann: str,
                         data_root: str, out: str) -> Dict[str, Any]:
        cls_cfg = self._classifier_config()
        recipe = self.seed_recipe
        relevance = dict(self.seeds_cfg.get('relevance')
                         or cls_cfg.get('relevance', dict(type='LRP')))
        classifier = load_classifier(cls_cfg, classifier_checkpoint)
        image_infos = load_image_infos(images_ann)
        relevance_dir = (osp.join(self._cycle_dir(cycle), 'relevance')
                         if self.seeds_cfg.get('keep_relevance', False) else None)
        self.runner.logger.info(f'cyclic: cycle {cycle} seeds from {relevance["type"]} on '
                                f'{len(image_infos)} images -> {out}')
        # Same seeds whether or not the run was resumed.
        set_random_seed(self.runner.seed + 1000 * cycle + 1)
        extraction = extract_seed_set(
            classifier, relevance, recipe, image_infos, data_root, out,
            tile_size=self.seeds_cfg.get('tile_size', 224),
            min_overlap=self.seeds_cfg.get('min_overlap', 64),
            batch_size=self.seeds_cfg.get('batch_size', 8),
            image_scale=self.seeds_cfg.get('image_scale', 1.0), cycle=cycle,
            info={'classifier_checkpoint': classifier_checkpoint, 'images_ann': images_ann,
                  'extracted_by_rank': get_rank(), 'world_size': get_world_size()},
            relevance_dir=relevance_dir)
        self.runner.call_hook('after_seed_extraction', cycle=cycle, extraction=extraction,
                              image_infos=image_infos, data_root=data_root, recipe=recipe,
                              relevance_dir=relevance_dir, out_dir=self._cycle_dir(cycle))
        info = extraction.seeds.info
        return dict(file=out, source='relevance', num_seeds=info['num_seeds'],
                    num_images=len(image_infos),
                    images_without_seeds=len(info['images_without_seeds']),
                    unreadable_images=len(extraction.unreadable))

    def _ground_truth_seeds(self, cycle: int, images_ann: str, out: str) -> Dict[str, Any]:
        k = self.seeds_cfg.get('k', 20)
        seeds = subsample_ground_truth(images_ann, k, seed=self.runner.seed)
        seeds.info.update(cycle=cycle, source='ground_truth', k=k)
        seeds.save(out)
        self.runner.logger.warning(
            f'cyclic: cycle {cycle} seeds are {k} GROUND-TRUTH nuclei per image (Table V '
            'setting; uses pixel labels)')
        return dict(file=out, source='ground_truth', k=k, num_seeds=len(seeds.annotations),
                    num_images=len(seeds.images),
                    images_without_seeds=seeds.count_empty_images(), unreadable_images=0)

    def _images_ann(self) -> str:
        given = self.seeds_cfg.get('images_ann')
        data_root = self.dataloader_cfg['dataset'].get('data_root', '')
        if given is None:
            return osp.join(data_root, 'annotations', 'instances_train_full.json')
        return given if osp.isabs(given) or osp.isfile(given) else osp.join(data_root, given)

    # -- unit 3: self-training ------------------------------------------------------
    def _self_train(self, cycle: int, classifier_checkpoint: str,
                    initial_weights: str) -> Dict[str, Any]:
        record = self.records[-1] if self.records else None
        self._epoch_offset = record['epoch'] if record else 0
        self._iter_offset = record['iter'] if record else 0
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

    # -- unit 4: hand-back -------------------------------------------------------------
    def _hand_back(self, cycle: int, classifier_checkpoint: str,
                   best_checkpoint: str) -> Dict[str, Any]:
        """The classifier cycle ``cycle + 1`` starts from (with the best f^S backbone or not)."""
        _, back_to_front = SHARING[self.mode]
        if not back_to_front:
            self.runner.logger.info(f'cyclic: cycle {cycle + 1} classifier continues from cycle '
                                    f'{cycle}\'s ({self.mode}: no weights from the back-end)')
            return dict(checkpoint=classifier_checkpoint, backbone_from=None, backbone_tensors=0)
        if not osp.isfile(best_checkpoint):
            raise ValueError(f'cyclic: cycle {cycle} selected no model ({best_checkpoint} is '
                             'missing: no phase has a validation score), so there is no backbone '
                             "to hand back; give the runner a val_dataloader or use "
                             "self_training.selection='agreement' with at least one student")
        out = osp.join(self._cycle_dir(cycle), 'next_classifier.pth')
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

    # -- stopping and selection ---------------------------------------------------
    def _converged(self) -> bool:
        if self.min_improvement is None or len(self.records) < 2:
            return False
        now, before = (r.get('val_pixel_dice') for r in self.records[-2:][::-1])
        return now is not None and before is not None and now - before < self.min_improvement

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
