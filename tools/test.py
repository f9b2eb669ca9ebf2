"""Test a checkpoint with an mmcyclic config (same arguments as mmdet's tools/test.py)."""
import argparse
import os.path as osp
import sys

import numpy as np
from mmengine.dist import get_rank
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmcyclic  # noqa: F401  (registers modules, checkpoint loading fix)
from mmcyclic.engine.cpu_distributed import shut_down_distributed
from mmcyclic.utils.atomic import atomic_write_json
from mmcyclic.utils.config import add_runner_arguments, config_from_args
from mmcyclic.utils.tool_errors import add_debug_argument, exit_on_user_error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) an mmcyclic model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', help='also write metrics.json, the per-image CSV and the '
                        'stitched label maps here')
    parser.add_argument('--show-dir', help='draw predictions into this dir (under work_dir)')
    add_runner_arguments(parser)
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'ERROR: {args.checkpoint}: checkpoint not found')
    cfg = config_from_args(args)
    cfg.load_from = args.checkpoint
    if args.out_dir:
        cfg.test_evaluator.out_dir = args.out_dir
        cfg.test_evaluator.save_label_maps = True
    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        cfg.default_hooks.visualization.test_out_dir = args.show_dir

    with exit_on_user_error(args.debug, prefix=f'{args.config}: '):
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        metrics = runner.test()
    if args.out_dir and get_rank() == 0:
        atomic_write_json(osp.join(args.out_dir, 'metrics.json'),
                          {k: float(v) for k, v in metrics.items()
                           if isinstance(v, (int, float, np.floating))}, indent=1)
    shut_down_distributed()


if __name__ == '__main__':
    main()
