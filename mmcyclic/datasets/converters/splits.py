"""Seeded, version-independent choices of validation/test images.

``numpy.random.Generator`` does not promise the same stream across numpy
versions, so a split drawn with it could silently change after an upgrade. The
choices here rank ids by ``sha256(f'{seed}:{id}')`` instead: the same seed
gives the same split on every platform and version, and adding or removing
one image moves only that image.
"""
import hashlib
from typing import Dict, List, Sequence

SPLITS = ('train', 'val', 'test')


def seeded_order(ids: Sequence[str], seed: int) -> List[str]:
    """``ids`` in a pseudo-random order fixed by ``seed``."""
    return sorted(ids, key=lambda i: hashlib.sha256(f'{seed}:{i}'.encode()).hexdigest())


def seeded_choice(ids: Sequence[str], num: int, seed: int) -> List[str]:
    """Choose ``num`` of ``ids`` with ``seed``; returned sorted by id.

    Raises:
        ValueError: ``num`` is negative or larger than ``len(ids)``.
    """
    if not 0 <= num <= len(ids):
        raise ValueError(f'cannot choose {num} of {len(ids)} images')
    return sorted(seeded_order(sorted(set(ids)), seed)[:num])


def seeded_split(ids: Sequence[str], val_fraction: float, test_fraction: float,
                 seed: int) -> Dict[str, List[str]]:
    """Random train/val/test split of ``ids`` (fractions rounded, train keeps >= 1).

    Returns:
        ``{'train': [...], 'val': [...], 'test': [...]}``, each sorted by id.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError('val_fraction and test_fraction must be >= 0 and sum to < 1, got '
                         f'{val_fraction} and {test_fraction}')
    order = seeded_order(sorted(set(ids)), seed)
    num_test = int(round(test_fraction * len(order)))
    num_val = int(round(val_fraction * len(order)))
    # Never leave training empty because of rounding on a tiny dataset.
    while order and num_test + num_val >= len(order) and (num_test or num_val):
        if num_test >= num_val:
            num_test -= 1
        else:
            num_val -= 1
    return {
        'test': sorted(order[:num_test]),
        'val': sorted(order[num_test:num_test + num_val]),
        'train': sorted(order[num_test + num_val:]),
    }
