"""Loading and checking configs for the command-line tools."""
import argparse
import copy
import difflib
import inspect
import os
import os.path as osp
import sys
from typing import Iterable, Optional, Tuple

from mmengine.config import Config, DictAction

# Top-level keys that mmengine's Runner (and mmdet's tools) read. A config key
# that is not one of them but nearly spells one is almost surely a typo that
# would otherwise be ignored silently.
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from', 'resume',
    'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name', 'custom_imports', 'runner_type', 'tta_model', 'tta_pipeline',
    'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'compile')
# Variables that OpenMMLab configs conventionally define for reuse.
CONFIG_VARIABLES = ('train_pipeline', 'val_pipeline', 'test_pipeline', 'data_root', 'dataset_type',
                    'backend_args', 'crop_size', 'vis_backends', 'metainfo', 'img_scale',
                    'pretrained', 'when_pretrained')


class ConfigError(ValueError):
    """A config cannot be used; the message names the file and the fix."""


def find_misspelt_keys(keys: Iterable[str], known: Iterable[str] = RUNNER_KEYS,
                       cutoff: float = 0.8) -> dict:
    """Map each key that is not known but close to a known key to that key."""
    known = tuple(known)
    suspects = {}
    for key in keys:
        if key in known or key in CONFIG_VARIABLES or key.startswith('_'):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=cutoff)
        if close:
            suspects[key] = close[0]
    return suspects


def check_keys(given: Iterable[str], allowed: Iterable[str], where: str) -> None:
    """Refuse a key that is not in ``allowed``, naming the nearest valid spelling.

    Args:
        given: The keys of a config dict.
        allowed: The keys it may have.
        where: Its dotted place in the config, e.g. ``'train_cfg.self_training'``.

    Raises:
        ConfigError: an unknown key (the first of them, with a suggestion).
    """
    allowed = sorted(allowed)
    for key in given:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f' (did you mean "{close[0]}"?)' if close else ''
        raise ConfigError(f'{where}.{key}: unknown key{hint}; valid keys: {", ".join(allowed)}')


def unregistered_type_message(error: KeyError) -> Optional[str]:
    """mmengine's "X is not in the ... registry" KeyError as one line with a hint, else None."""
    text = str(error.args[0]) if error.args else ''
    if ' registry' not in text or 'is not in the' not in text:
        return None
    wanted = text.split(' is not in the')[0]
    return (f'unknown type "{wanted}" ({text.split(". ")[0]}). Check the spelling in the '
            'config; mmcyclic modules need custom_imports=dict(imports=[\'mmcyclic\']), and a '
            "backbone shared with the classifier is 'mmpretrain.ResNet' or "
            "'mmpretrain.SwinTransformer'.")


def apply_pretrained(cfg: Config, cfg_options: Optional[dict] = None) -> None:
    """The ``pretrained`` switch: a local ImageNet checkpoint for ``model.backbone``.

    When ``cfg.pretrained`` is a path, ``cfg.when_pretrained`` (the fine-tuning
    optimiser, from the schedules in ``configs/_base_/schedules/``) is merged,
    then ``cfg_options`` again so that the command line still wins, and the
    backbone's ``init_cfg`` becomes ``dict(type='PretrainedBackbone',
    checkpoint=...)`` (:class:`mmcyclic.models.PretrainedBackboneInit`, which
    checks the file when the weights are initialised, before any training).
    Applied when a config is loaded, so ``--cfg-options pretrained=PATH`` and a
    child config's ``pretrained = PATH`` both reach it.

    Raises:
        ConfigError: ``pretrained`` is set but the config has no ``model.backbone``.
    """
    path = cfg.get('pretrained')
    if not path:
        return
    if cfg.get('when_pretrained'):
        cfg.merge_from_dict(copy.deepcopy(cfg.when_pretrained.to_dict()))
        if cfg_options:
            cfg.merge_from_dict(copy.deepcopy(cfg_options))
    backbone = cfg.get('model', {}).get('backbone')
    if backbone is None:
        raise ConfigError(f'pretrained={path!r} is set, but the config has no model.backbone to '
                          'initialise; remove pretrained')
    backbone.init_cfg = dict(type='PretrainedBackbone', checkpoint=str(path))


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config, merge ``--cfg-options``, apply ``pretrained``, check for misspelt keys.

    Raises:
        ConfigError: the file is missing, cannot be parsed, or has a key that
            looks like a misspelt Runner key.
    """
    if not osp.isfile(path):
        raise ConfigError(f'{path}: config file not found. Configs live in configs/, '
                          'e.g. configs/mask_rcnn_r50_monu.py.')
    try:
        cfg = Config.fromfile(path)
    except Exception as error:
        raise ConfigError(f'{path}: cannot load config: {error}') from error
    if cfg_options:
        cfg.merge_from_dict(copy.deepcopy(cfg_options))
    try:
        apply_pretrained(cfg, cfg_options)
    except ConfigError as error:
        raise ConfigError(f'{path}: {error}') from error
    suspects = find_misspelt_keys(cfg.keys())
    if suspects:
        hints = '; '.join(f'"{bad}" (did you mean "{good}"?)' for bad, good in suspects.items())
        raise ConfigError(f'{path}: unknown config key {hints}. The Runner would ignore it.')
    try:
        check_train_loop_keys(cfg)
    except ConfigError as error:
        raise ConfigError(f'{path}: {error}') from error
    return cfg


def constructor_arguments(cls: type) -> Optional[Tuple[str, ...]]:
    """Argument names of ``cls.__init__`` (without ``self``); None if it takes ``**kwargs``."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return tuple(name for name in parameters if name != 'self')


def check_train_loop_keys(cfg: Config) -> None:
    """Refuse a ``train_cfg`` key that its registered loop does not take.

    Only loops named by ``train_cfg.type`` whose constructor takes no
    ``**kwargs`` are checked; nested dicts are the loop's own business (the
    cyclic loop checks its ``seeds``, ``self_training``, ...).

    Raises:
        ConfigError: an unknown key, with the nearest valid spelling.
    """
    train_cfg = cfg.get('train_cfg') or {}
    loop_type = train_cfg.get('type') if isinstance(train_cfg, dict) else None
    if not isinstance(loop_type, str):
        return
    from mmdet.registry import LOOPS

    import mmcyclic  # noqa: F401  (registers the loops)
    loop = LOOPS.get(loop_type)
    if loop is None:
        return
    arguments = constructor_arguments(loop)
    if arguments is None:
        return
    check_keys(train_cfg, (set(arguments) - {'runner', 'dataloader'}) | {'type'}, 'train_cfg')


def set_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> None:
    """``--work-dir`` > ``cfg.work_dir`` > ``./work_dirs/<config name>`` (mmdet's rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def adapt_to_machine(cfg: Config) -> None:
    """Without a GPU, run multi-process jobs on gloo with CPU DDP.

    Call after ``cfg.launcher`` is set.
    """
    from mmcyclic.engine.cpu_distributed import setup_cpu_distributed
    setup_cpu_distributed(cfg)


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments mmdet's train.py and test.py share."""
    parser.add_argument('--work-dir', help='the dir to save logs, models and results')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def config_from_args(args: argparse.Namespace) -> Config:
    """Load ``args.config`` for a tool; exits with a clear message on a bad config."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as error:
        sys.exit(f'ERROR: {error}')
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.config, args.work_dir)
    adapt_to_machine(cfg)
    return cfg


def evaluator_score_thr(cfg: Config) -> Optional[float]:
    """The ``score_thr`` of the config's ``test_evaluator``, or ``None`` if it sets none.

    Args:
        cfg: A model config; ``test_evaluator`` may be one evaluator dict or a list.
    """
    evaluators = cfg.get('test_evaluator', None) or []
    for evaluator in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        if isinstance(evaluator, dict) and evaluator.get('score_thr') is not None:
            return float(evaluator['score_thr'])
    return None
