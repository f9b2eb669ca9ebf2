"""Fixtures for the dataset tests: the shared real data and small fake datasets."""
from pathlib import Path

import pytest

# ../shared/data next to the repository (read-only; never copied into the repo).
SHARED_DATA = Path(__file__).resolve().parents[2].parent / 'shared' / 'data'
MONUSEG = SHARED_DATA / 'monuseg'


@pytest.fixture
def monuseg_dir() -> Path:
    """The real MoNuSeg folder, or skip with the reason."""
    if not (MONUSEG / 'train' / 'images').is_dir():
        pytest.skip(f'real MoNuSeg data not found at {MONUSEG} (see ../shared/data/SOURCES.md)')
    return MONUSEG
