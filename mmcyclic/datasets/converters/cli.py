"""What the converter tools in ``tools/dataset_converters/`` share.

Exit status of every converter tool (:func:`run_conversion`): 0 when every
split that was asked for holds at least one image; 1 when a split ended up
empty (all of its images skipped) or nothing was written, with the reason
(when no image at all was converted, ``--out`` is left as it was);
2 when nothing was converted because of the command line (missing source
folder, an earlier conversion in ``--out`` without ``--overwrite``, a bad
split file).
"""
import argparse
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List

from mmcyclic.utils.tool_errors import user_error_message

from .writer import format_summary

EXIT_EMPTY_SPLIT = 1
EXIT_BAD_ARGUMENTS = 2


def add_patch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--patch-size``, ``--min-area`` and ``--overwrite``."""
    parser.add_argument('--patch-size', type=int, default=256)
    parser.add_argument('--min-area', type=int, default=1)
    parser.add_argument('--overwrite', action='store_true', help='replace an earlier conversion')


def empty_split_problems(log: Dict[str, Any]) -> List[str]:
    """Why a conversion is unusable: one line per split that ended up empty.

    Args:
        log: The ``conversion_log.json`` content returned by the converters.

    Returns:
        ``[]`` when every split that had images assigned to it holds at least
        one written image (and something was written at all); otherwise one
        message per empty split with its skip reasons.
    """
    reasons: Dict[str, Counter] = {}
    for entry in log['images'].values():
        if entry.get('split'):
            reasons.setdefault(entry['split'], Counter())
            if entry['status'] == 'skipped':
                reasons[entry['split']][entry['reason']] += 1
    written = log['summary']['images_per_split']
    problems = []
    for split, skips in sorted(reasons.items()):
        if not written.get(split):
            problems.append(f'split "{split}" is empty: all {sum(skips.values())} of its '
                            f'image(s) were skipped ({dict(skips)})')
    if not log['summary']['images_written'] and not problems:
        problems.append('no image was written (no source image found)')
    return problems


def run_conversion(convert: Callable[[], Dict[str, Any]], out: str) -> int:
    """Run ``convert()`` with warnings shown, print its summary and return the exit status.

    Args:
        convert: Runs the conversion and returns its log.
        out: The output folder (for the messages).

    Returns:
        0, :data:`EXIT_EMPTY_SPLIT` or :data:`EXIT_BAD_ARGUMENTS` (see the module
        docstring); every non-zero status comes with an ``ERROR:`` line on stderr.
    """
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s: %(message)s')
    try:
        log = convert()
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError) as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except OSError as error:  # a full disk: nothing was moved into --out
        message = user_error_message(error)
        if message is None:
            raise
        print(f'ERROR: {message} Nothing was written to {Path(out).resolve()}.', file=sys.stderr)
        return EXIT_EMPTY_SPLIT
    print(format_summary(log))
    problems = empty_split_problems(log)
    if not log['summary']['images_written']:
        # Nothing was moved into --out: a rerun needs no --overwrite.
        print(f'ERROR: {"; ".join(problems)}; nothing was written to {Path(out).resolve()} '
              '(the reason of each file is listed above)', file=sys.stderr)
        return EXIT_EMPTY_SPLIT
    print(f'written to {Path(out).resolve()}')
    for problem in problems:
        print(f'ERROR: {problem}; see {Path(out) / "conversion_log.json"} for each file',
              file=sys.stderr)
    return EXIT_EMPTY_SPLIT if problems else 0
