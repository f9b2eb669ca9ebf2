"""Unit 1 of a cycle (Fig. 1): the front-end classifier f^C, trained by a child Runner.

The classifier has a normal mmpretrain config, trainable alone with
``tools/train.py``; the cycle trains it in ``cycle_i/classifier/`` with a seed
of its own per cycle, from the weights the previous cycle handed back (or the
config's own initialisation in cycle 1), and resumes it from its
``last_checkpoint`` when the run is resumed.
"""
import copy
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.config import Config
from mmengine.dist import barrier
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmcyclic.utils.config import adapt_to_machine, load_config

from .child_runner import outer_instances_stay_current


class ClassifierStep:
    """Trains f^C for one cycle and returns the unit's record.

    Args:
        runner (Runner): The cycle's (the detector's) runner: its seed, experiment
            name, launcher, ``resume`` flag, logger and config file are used.
        config (str): The classifier's full mmpretrain config. A relative path is
            looked up from the current folder, then beside the cyclic config.
        cfg_options (dict, optional): Merged into that config (e.g. the tile
            dataloaders, ``seed_recipe``). Unless it sets ``pretrained``, the
            cyclic config's ``pretrained`` is the classifier's too, so one switch
            initialises the backbones of both ends.
    """

    def __init__(self, runner, config: str, cfg_options: Optional[Dict[str, Any]] = None) -> None:
        self.runner = runner
        self.config = config
        self.cfg_options = cfg_options

    def load_config(self) -> Config:
        """The classifier config with ``cfg_options`` merged (a fresh copy on every call)."""
        path = self.config
        if not osp.isfile(path) and self.runner.cfg.filename:
            beside = osp.join(osp.dirname(self.runner.cfg.filename), path)
            path = beside if osp.isfile(beside) else path
        options = copy.deepcopy(self.cfg_options) or {}
        if self.runner.cfg.get('pretrained') and 'pretrained' not in options:
            options['pretrained'] = self.runner.cfg.pretrained
        return load_config(path, options)

    def __call__(self, cycle: int, out_dir: str, init: Optional[str]) -> Dict[str, Any]:
        """Train (or resume) the classifier of ``cycle`` in ``out_dir``.

        Args:
            cycle (int): The cycle (1-based); the child's seed is ``seed + 1000 * cycle``.
            out_dir (str): The child's work_dir; ``classifier.pth`` is written there.
            init (str, optional): Checkpoint it starts from (``load_from``); None: the
                config's own initialisation. Ignored when resuming.

        Returns:
            Dict[str, Any]: ``checkpoint``, ``init`` and the validation metrics as
            fractions (mmpretrain reports percent).
        """
        runner = self.runner
        cfg = self.load_config()
        cfg.work_dir = out_dir
        cfg.experiment_name = f'{runner.experiment_name}_cycle{cycle}_classifier'
        cfg.randomness = dict(seed=runner.seed + 1000 * cycle)
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='ReseedEpochHook')]
        resumable = runner.cfg.get('resume', False) and osp.isfile(
            osp.join(out_dir, 'last_checkpoint'))
        if resumable:
            cfg.resume, cfg.load_from = True, None
        else:
            cfg.resume, cfg.load_from = False, init
        cfg.launcher = runner.launcher
        adapt_to_machine(cfg)
        runner.logger.info(
            f'cyclic: cycle {cycle} classifier in {out_dir} '
            + ('(resuming)' if resumable else f'(init: {cfg.load_from or "config"})'))
        with outer_instances_stay_current(runner), \
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
