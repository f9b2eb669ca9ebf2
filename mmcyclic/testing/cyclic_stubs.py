"""Stand-ins for the expensive units of :class:`mmcyclic.engine.CyclicLoop`.

:class:`CyclicStubs` replaces

* the classifier's child ``Runner`` (unit 1, in :mod:`mmcyclic.engine.classifier_step`),
* ``load_classifier`` and ``extract_seed_set`` (unit 2, relevance seeds, in
  :mod:`mmcyclic.engine.seed_step`),
* ``SelfTrainingLoop`` (unit 3, in :mod:`mmcyclic.engine.cyclic_loop`),
* the check that both ends build the same backbone (``check_backbones_match``, in
  :mod:`mmcyclic.engine.cyclic_loop`: the stub classifier has no model config),

and wraps ``HandBackStep.__call__`` (unit 4, in :mod:`mmcyclic.engine.hand_back_step`,
which stays real: it only moves tensors between two small checkpoints). Every
stub records its call in
:attr:`CyclicStubs.calls` and writes the files the next unit reads, with
weights whose values say where they come from (see :func:`classifier_weights`
and :func:`student_weights`). The loop's own logic (order, modes, state file,
resume, stopping, hooks) runs unchanged, on a real ``Runner`` with the toy
model of :mod:`.toy_runner`, in well under a second per cycle.
"""
import inspect
import json
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.runner.checkpoint import _load_checkpoint

from mmcyclic.datasets.label_sets import seed_set_from_label_maps
from mmcyclic.engine import classifier_step, cyclic_loop, hand_back_step, seed_step
from mmcyclic.engine.loop_state import unwrap
from mmcyclic.engine.self_training_loop import SelfTrainingLoop
from mmcyclic.seeds.extract import SeedExtraction
from mmcyclic.seeds.recipe import SeedResult

# The units of one cycle, in the order of Fig. 1.
UNITS = ('classifier', 'seeds', 'self_training', 'hand_back')
# The classifier's validation metrics, as mmpretrain reports them (percent).
CLASSIFIER_METRICS = {'accuracy/top1': 75.0, 'single-label/f1-score': 80.0}
# Kept at import, before any stub wraps it (a second install must not wrap the first).
_REAL_HAND_BACK = hand_back_step.HandBackStep.__call__


def classifier_weights(model: torch.nn.Module, cycle: int) -> Dict[str, torch.Tensor]:
    """The stub classifier of ``cycle``: the toy model's tensors, backbone filled with
    ``10 * cycle + 1`` and the rest with ``10 * cycle + 2``."""
    return {k: torch.full_like(v, 10.0 * cycle + (1 if k.startswith('backbone.') else 2))
            for k, v in model.state_dict().items()}


def student_weights(model: torch.nn.Module, cycle: int) -> Dict[str, torch.Tensor]:
    """The best student of ``cycle`` (stub self-training): every tensor filled with ``-cycle``."""
    return {k: torch.full_like(v, -float(cycle)) for k, v in model.state_dict().items()}


def fill_values(path: str) -> Dict[str, float]:
    """``{'backbone': v, 'head': w}``: the single value each part of a stub checkpoint holds
    (NaN where a part's tensors disagree: not a stub checkpoint)."""
    state = _load_checkpoint(path, map_location='cpu')['state_dict']
    out = {}
    for part in ('backbone', 'head'):
        values = torch.cat([v.reshape(-1) for k, v in state.items() if k.startswith(part + '.')])
        out[part] = float(values[0]) if bool((values == values[0]).all()) else float('nan')
    return out


def _save(state: Dict[str, torch.Tensor], path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=state, meta=dict()), path)


def _cycle_of(path: str) -> int:
    """The ``N`` of the last ``cycle_N`` folder in ``path``."""
    return int(re.findall(r'cycle_(\d+)', path)[-1])


class Interrupted(KeyboardInterrupt):
    """Raised by a stub to simulate a killed run (``kill``/Ctrl-C) inside a unit."""


@dataclass
class CyclicStubs:
    """Install with :meth:`install`; then run the cyclic runner and read :attr:`calls`.

    Attributes:
        val_dice: Validation Dice of the selected student of cycle 1, 2, ...
        interrupt: ``(unit, cycle)`` whose stub raises :class:`Interrupted`
            (after the classifier child wrote ``last_checkpoint``, before any
            file of the other units).
        seed_map: Seed label map that every image gets (SeedReportHook scores
            it against the image's ground truth); default: no seed.
        calls: ``(unit, cycle, details)`` in call order.
    """

    val_dice: Sequence[float] = (0.5, 0.7, 0.6, 0.8)
    interrupt: Optional[Tuple[str, int]] = None
    seed_map: Optional[np.ndarray] = None
    calls: List[Tuple[str, int, Dict[str, Any]]] = field(default_factory=list)

    def install(self, setattr_: Callable[[Any, str, Any], None]) -> 'CyclicStubs':
        """Patch the units' modules with ``setattr_`` (e.g. pytest's
        ``monkeypatch.setattr``, which undoes it after the test)."""
        setattr_(classifier_step, 'Runner', self._classifier_runner_class())
        setattr_(seed_step, 'load_classifier', self._load_classifier)
        setattr_(seed_step, 'extract_seed_set', self._extract_seed_set)
        setattr_(cyclic_loop, 'SelfTrainingLoop', self._self_training_class())
        setattr_(cyclic_loop, 'check_backbones_match', lambda *args: None)
        real_hand_back = _REAL_HAND_BACK

        def hand_back(step, cycle, classifier_checkpoint, best_checkpoint, out_dir):
            self._record('hand_back', cycle, classifier_checkpoint=classifier_checkpoint,
                         best_checkpoint=best_checkpoint)
            return real_hand_back(step, cycle, classifier_checkpoint, best_checkpoint, out_dir)

        setattr_(hand_back_step.HandBackStep, '__call__', hand_back)
        return self

    def order(self) -> List[Tuple[str, int]]:
        """``(unit, cycle)`` of every call, in order."""
        return [(unit, cycle) for unit, cycle, _ in self.calls]

    def details(self, unit: str) -> Dict[int, Dict[str, Any]]:
        """``{cycle: details}`` of ``unit``'s last call in each cycle."""
        return {cycle: d for u, cycle, d in self.calls if u == unit}

    def _record(self, unit: str, cycle: int, **details) -> None:
        self.calls.append((unit, cycle, details))
        if self.interrupt == (unit, cycle):
            raise Interrupted(f'simulated kill in cycle {cycle} {unit}')

    # -- unit 1 ----------------------------------------------------------------------
    def _classifier_runner_class(self) -> type:
        stubs = self

        class StubClassifierRunner:
            """What ``Runner.from_cfg(classifier cfg)`` returns: records the config, 'trains'
            by writing ``last_checkpoint``, validates to :data:`CLASSIFIER_METRICS`."""

            def __init__(self, cfg) -> None:
                self.cfg = cfg
                self.cycle = _cycle_of(cfg.work_dir)

            @classmethod
            def from_cfg(cls, cfg) -> 'StubClassifierRunner':
                return cls(cfg)

            def train(self) -> None:
                os.makedirs(self.cfg.work_dir, exist_ok=True)
                with open(osp.join(self.cfg.work_dir, 'last_checkpoint'), 'w') as handle:
                    handle.write('epoch_1.pth')
                init = fill_values(self.cfg.load_from) if self.cfg.load_from else None
                stubs._record('classifier', self.cycle, work_dir=self.cfg.work_dir,
                              load_from=self.cfg.load_from, resume=self.cfg.resume,
                              init_values=init, seed=self.cfg.randomness['seed'],
                              hooks=[h['type'] for h in self.cfg.custom_hooks])

            @property
            def val_loop(self):
                return self

            def run(self) -> Dict[str, float]:
                return dict(CLASSIFIER_METRICS)

            def save_checkpoint(self, out_dir: str, filename: str, **kwargs) -> None:
                from mmcyclic.testing.toy_runner import MMCyclicToyModel
                _save(classifier_weights(MMCyclicToyModel(), self.cycle),
                      osp.join(out_dir, filename))

        return StubClassifierRunner

    # -- unit 2 ----------------------------------------------------------------------
    def _load_classifier(self, cfg, checkpoint: str):
        return dict(stub_classifier=checkpoint)

    def _extract_seed_set(self, classifier, relevance, recipe, image_infos, data_root, out,
                          cycle, info, **kwargs) -> SeedExtraction:
        self._record('seeds', cycle, classifier=classifier['stub_classifier'], out=out,
                     relevance=relevance, image_ids=[im['id'] for im in image_infos])
        results, maps = {}, {}
        for image in image_infos:
            seeds = (np.zeros((image['height'], image['width']), np.int32)
                     if self.seed_map is None else np.asarray(self.seed_map, np.int32))
            scores = [1.0] * len([i for i in np.unique(seeds) if i])
            results[str(image.get('source_id', image['id']))] = SeedResult(seeds, scores=scores)
            maps[image['id']] = (seeds, scores)
        seed_set = seed_set_from_label_maps(image_infos, maps, dict(info, cycle=cycle))
        seed_set.save(out)
        return SeedExtraction(seed_set, results)

    # -- unit 3 ----------------------------------------------------------------------
    def _self_training_class(self) -> type:
        stubs = self

        class StubSelfTrainingLoop:
            """Reads the cycle's seed file, 'trains' two phases (teacher, student_1) of one
            epoch each, saves the selected student and reports ``val_dice[cycle - 1]``."""

            def __init__(self, runner, dataloader, **kwargs) -> None:
                self.runner = runner
                self.kwargs = kwargs
                self.dataloader = [None] * 3
                self.epoch = self.iter = 0

            # The cyclic loop checks train_cfg.self_training against the real signature.
            __init__.__signature__ = inspect.signature(SelfTrainingLoop.__init__)

            def run_phases(self) -> Dict[str, Any]:
                cycle = _cycle_of(self.kwargs['out_dir'])
                with open(self.kwargs['seed_file'], encoding='utf-8') as handle:
                    seed_cycle = json.load(handle)['info']['cycle']
                backbone = self.kwargs['backbone_checkpoint']
                stubs._record('self_training', cycle, seed_file=self.kwargs['seed_file'],
                              seed_file_cycle=seed_cycle, backbone_checkpoint=backbone,
                              initial_weights=self.kwargs['initial_weights'],
                              out_dir=self.kwargs['out_dir'],
                              options={k: v for k, v in self.kwargs.items()
                                       if k not in cyclic_loop.SET_BY_THE_CYCLE})
                model = unwrap(self.runner.model)
                _save(student_weights(model, cycle),
                      osp.join(self.runner.work_dir, self.kwargs['out_dir'], 'best_student.pth'))
                self.epoch, self.iter = 2, 2 * len(self.dataloader)
                dice = stubs.val_dice[cycle - 1]
                return dict(selected='student_1', selected_by='val_pixel_dice',
                            selection_scores=dict(val_dice=dict(teacher=dice / 2,
                                                                student_1=dice)),
                            phases=[dict(name='teacher', val_pixel_dice=dice / 2),
                                    dict(name='student_1', val_pixel_dice=dice, val_aji=dice / 3)])

        return StubSelfTrainingLoop


def write_stub_inputs(folder: str) -> Tuple[str, str]:
    """What a stub cyclic run reads: a data root with one 8 x 8 image's ground truth
    (``labels/img1.png``: nucleus 1 = rows 0:3 x columns 0:3, nucleus 2 = rows 5:8 x columns
    5:8) listed in ``annotations/train_full.json``, and a classifier config (only its
    ``seed_recipe`` and ``relevance`` are read: the classifier run is a stub).

    Returns:
        The data root and the classifier config's path.
    """
    from mmcyclic.datasets.io import write_label_map
    root = osp.join(folder, 'data')
    gt = np.zeros((8, 8), np.int32)
    gt[0:3, 0:3] = 1
    gt[5:8, 5:8] = 2
    write_label_map(osp.join(root, 'labels', 'img1.png'), gt)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', 'train_full.json'), 'w', encoding='utf-8') as handle:
        json.dump(dict(images=[dict(id=1, file_name='images/img1.png', height=8, width=8,
                                    source_id='img1', label_map='labels/img1.png')],
                       annotations=[], categories=[dict(id=1, name='nucleus')]), handle)
    classifier = osp.join(folder, 'classifier_toy.py')
    with open(classifier, 'w', encoding='utf-8') as handle:
        handle.write("seed_recipe = dict(threshold=0.3)\nrelevance = dict(type='LRP')\n")
    return root, classifier


def stub_cyclic_cfg(inputs: Tuple[str, str], work_dir: str, mode: str = 'bilateral',
                    max_cycles: int = 3, resume: bool = False,
                    custom_hooks: Sequence[dict] = (), **loop):
    """A toy-runner config whose ``train_cfg`` is a ``CyclicLoop`` on :func:`write_stub_inputs`'s
    files (one-epoch phases, one student); ``loop`` adds ``train_cfg`` keys."""
    from .toy_runner import toy_runner_cfg
    root, classifier = inputs
    train_cfg = dict(type='CyclicLoop', classifier=dict(config=classifier),
                     self_training=dict(num_students=1, teacher_epochs=1, student_epochs=1,
                                        score_thr=0.05),
                     # No seed-report controls: they would build the (stub) classifier.
                     seeds=dict(images_ann=osp.join(root, 'annotations', 'train_full.json'),
                                controls=False),
                     max_cycles=max_cycles, mode=mode, **loop)
    return toy_runner_cfg(work_dir, data_root=root, train_cfg=train_cfg, resume=resume,
                          custom_hooks=list(custom_hooks))
