"""Fixtures for the whole-slide tests: small synthetic pyramids written with tifffile."""
import sys
from pathlib import Path

import pytest

# The inference tests' ground-truth detector lives next to them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test_apis'))


@pytest.fixture(scope='session')
def synthetic():
    """A 1536 x 2048 slide of repeated 256 px synthetic tiles, ~30 % tissue, one tile without
    nuclei."""
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide
    return SyntheticSlide(1536, 2048, block=256, distinct=4, seed=1, tissue_fraction=0.3,
                          empty_blocks=(3, ))


@pytest.fixture(scope='session')
def full_tissue():
    """A 768 x 1024 slide with tissue everywhere (no glass)."""
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide
    return SyntheticSlide(768, 1024, block=256, distinct=3, seed=2, tissue_fraction=1.0)


@pytest.fixture(scope='session')
def pyramids(tmp_path_factory, synthetic):
    """``{kind: path}`` of the synthetic slide as generic, SVS-like and OME pyramids (lossless)."""
    from mmcyclic.wsi.synthetic_slide import write_synthetic_slide
    root = tmp_path_factory.mktemp('slides')
    names = {'generic': 'generic.tif', 'svs': 'aperio.svs', 'ome': 'converted.ome.tif'}
    return {kind: write_synthetic_slide(root / name, synthetic, kind, mpp=0.25,
                                        compression='zlib')
            for kind, name in names.items()}
