"""Shared fixture: a tiny synthetic dataset on disk."""
from pathlib import Path

import pytest


@pytest.fixture(scope='session')
def tiny_synthetic(tmp_path_factory) -> Path:
    """6 train / 2 val / 2 test synthetic H&E tiles of 96x96 in the data_format layout."""
    from mmcyclic.datasets.converters.synthetic import convert_synthetic
    out = tmp_path_factory.mktemp('data') / 'synthetic'
    convert_synthetic(out, num_train=6, num_val=2, num_test=2, size=96, seed=3, patch_size=96,
                      progress=False)
    return out
