"""Helpers shared by the results-table scripts: test metrics of a run and mean ± std cells."""
import json
import statistics
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

TEST_KEYS = (('Dice', 'pixel_dice'), ('AJI', 'aji'), ('PQ', 'pq'), ('Dice_obj', 'object_dice'))


def test_metrics(path: Path, keys: Sequence[Tuple[str, str]] = TEST_KEYS) -> Dict[str, float]:
    """Metrics of ``tools/test.py --out-dir``'s ``metrics.json`` by short name (NaN if absent).

    Args:
        path (Path): the ``metrics.json`` file.
        keys (Sequence[Tuple[str, str]]): (column name, metric name without its prefix).
    """
    raw = json.loads(path.read_text())
    return {name: next((v for k, v in raw.items() if k.split('/')[-1] == key), float('nan'))
            for name, key in keys}


def mean_std(values: List[float]) -> str:
    """``mean ± std`` of a list (sample std), the value alone for one run."""
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}'
