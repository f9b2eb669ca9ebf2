"""Fixtures of tests/test_ops: mmcv's compiled ops, and swapping the ops mmcv.ops calls."""
import pytest

from mmcv_ext_helpers import compiled_ext_or_none, mmcv_ops_modules


@pytest.fixture(scope='session')
def compiled_ext():
    """mmcv's compiled ops; the test is skipped where mmcv has none."""
    ext = compiled_ext_or_none()
    if ext is None:
        pytest.skip('mmcv has no compiled ops here (mmcv-lite): nothing to compare torchvision\'s '
                    'with; set up with MMCYCLIC_MMCV_OPS=compiled to run this check')
    return ext


@pytest.fixture
def use_ext(monkeypatch):
    """``use_ext(ext)``: every mmcv.ops wrapper calls ``ext`` until the test ends."""
    import mmcv.ops  # noqa: F401  (loads every wrapper)

    def use(ext):
        for module in mmcv_ops_modules():
            monkeypatch.setattr(module, 'ext_module', ext)
    return use
