"""Range checks of the training loops' numbers, run when a loop is built (before any work).

A threshold of 1.5 or a count of -1 would otherwise start a run that fails
hours later with an unrelated message (a scheduler error for
``num_students=-1``) or trains on nothing. Each check names the config key.
"""
import math
from numbers import Integral, Real
from typing import Any, Dict, Mapping, Optional, Tuple

from mmcyclic.utils.config import ConfigError

# key -> (kind, lowest, highest, lowest excluded): 'int' counts, 'real' numbers.
Range = Tuple[str, Optional[float], Optional[float], bool]
SELF_TRAINING_RANGES: Dict[str, Range] = {
    'num_students': ('int', 0, None, False),
    'teacher_epochs': ('int', 1, None, False),
    'student_epochs': ('int', 1, None, False),
    'alpha': ('real', 0.0, 1.0, False),
    'score_thr': ('real', 0.0, 1.0, False),
    'merge_iou': ('real', 0.0, 1.0, True),
    'union_iou_thr': ('real', 0.0, 1.0, True),
}
# Keys whose None means "derived by the loop" (score_thr: the tested threshold).
OPTIONAL_KEYS = ('score_thr', )
CYCLIC_RANGES: Dict[str, Range] = {'max_cycles': ('int', 1, None, False)}
SEEDS_RANGES: Dict[str, Range] = {
    'k': ('int', 1, None, False),
    'tile_size': ('int', 1, None, False),
    'min_overlap': ('int', 0, None, False),
    'batch_size': ('int', 1, None, False),
    'image_scale': ('real', 0.0, None, True),
}


def _describe(kind: str, low: Optional[float], high: Optional[float], open_low: bool) -> str:
    noun = 'an integer' if kind == 'int' else 'a number'
    if high is not None:
        return f'{noun} in {"(" if open_low else "["}{low:g}, {high:g}]'
    return f'{noun} {">" if open_low else ">="} {low:g}'


def check_value(value: Any, key: str, kind: str, low: Optional[float] = None,
                high: Optional[float] = None, open_low: bool = False) -> None:
    """Refuse ``value`` unless it is an ``int`` (``kind='int'``) or a finite real in range.

    Args:
        value: The configured value.
        key: Its dotted config key, e.g. ``'train_cfg.self_training.score_thr'``.
        kind: ``'int'`` or ``'real'``.
        low: Lowest allowed value (None: no bound).
        high: Highest allowed value (None: no bound).
        open_low: ``low`` itself is not allowed.

    Raises:
        ConfigError: naming ``key``, the value and the allowed range.
    """
    ok = (isinstance(value, Integral if kind == 'int' else Real)
          and not isinstance(value, bool) and math.isfinite(value))
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ConfigError(f'{key} must be {_describe(kind, low, high, open_low)}, '
                          f'got {value!r}')


def check_values(values: Mapping[str, Any], ranges: Mapping[str, Range], where: str) -> None:
    """Check every key of ``values`` that ``ranges`` knows (the others are not numbers);
    None is allowed for :data:`OPTIONAL_KEYS`.

    Args:
        values: A config dict, e.g. ``train_cfg.self_training``.
        ranges: Key -> ``(kind, low, high, open_low)``.
        where: The dict's dotted place in the config, e.g. ``'train_cfg.self_training'``.

    Raises:
        ConfigError: the first value out of range, naming ``<where>.<key>``.
    """
    for key, value in values.items():
        if key in ranges and not (value is None and key in OPTIONAL_KEYS):
            check_value(value, f'{where}.{key}', *ranges[key])
