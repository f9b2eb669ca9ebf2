"""Train with an mmcyclic config (same arguments as mmdet's tools/train.py)."""
import argparse
import os
import sys
from contextlib import nullcontext

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.engine.cpu_distributed import shut_down_distributed
from mmcyclic.utils.config import add_runner_arguments, config_from_args, unregistered_type_message
from mmcyclic.utils.tool_errors import add_debug_argument, exit_on_user_error
from mmcyclic.utils.work_dir_lock import WorkDirLock


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an mmcyclic model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or (no value) from the latest one in the work dir')
    add_runner_arguments(parser)
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = config_from_args(args)
    if args.amp:
        guarded = cfg.optim_wrapper.get('type') == 'SkipNonFiniteOptimWrapper'
        cfg.optim_wrapper.type = 'SkipNonFiniteAmpOptimWrapper' if guarded else 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            sys.exit(f'ERROR: {args.config}: --auto-scale-lr needs auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    # Rank 0 owns the work dir for the whole run (the other ranks of a launch share it).
    lock = WorkDirLock(cfg.work_dir) if os.environ.get('RANK', '0') == '0' else nullcontext()
    with exit_on_user_error(args.debug, prefix=f'{args.config}: '), lock:
        try:
            runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        except KeyError as error:
            message = unregistered_type_message(error)
            if message is None:
                raise
            sys.exit(f'ERROR: {args.config}: {message}')
        try:
            runner.train()  # builds the train loop first: its keys are checked before any work
        except Exception as error:
            runner.logger.error(f'{type(error).__name__}: {error}')  # into the run's log too
            raise
    shut_down_distributed()


if __name__ == '__main__':
    main()
