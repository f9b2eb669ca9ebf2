"""What the converter tools in ``tools/dataset_converters/`` share."""
import argparse
import logging
from pathlib import Path
from typing import Any, Callable, Dict

from .writer import format_summary


def add_patch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--patch-size``, ``--min-area`` and ``--overwrite``."""
    parser.add_argument('--patch-size', type=int, default=256)
    parser.add_argument('--min-area', type=int, default=1)
    parser.add_argument('--overwrite', action='store_true', help='replace an earlier conversion')


def run_conversion(convert: Callable[[], Dict[str, Any]], out: str) -> None:
    """Run ``convert()`` with warnings shown, then print its summary and ``out``."""
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s: %(message)s')
    log = convert()
    print(format_summary(log))
    print(f'written to {Path(out).resolve()}')
