"""Test a checkpoint with an mmcyclic config (same arguments as mmdet's tools/test.py)."""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.utils.config import ConfigError, adapt_to_machine, load_config, set_work_dir


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) an mmcyclic model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation results')
    parser.add_argument('--out-dir', help='also write per-image CSV and stitched label maps here')
    parser.add_argument('--show-dir', help='draw predictions into this dir (under work_dir)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. test_evaluator.score_thr=0.3')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'ERROR: {args.checkpoint}: checkpoint not found')
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as error:
        sys.exit(f'ERROR: {error}')
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.config, args.work_dir)
    adapt_to_machine(cfg)
    cfg.load_from = args.checkpoint
    if args.out_dir:
        cfg.test_evaluator.out_dir = args.out_dir
        cfg.test_evaluator.save_label_maps = True
    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        cfg.default_hooks.visualization.test_out_dir = args.show_dir

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.test()


if __name__ == '__main__':
    main()
