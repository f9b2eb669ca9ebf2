"""Shared fixtures: a tiny synthetic dataset on disk; mmengine's named instances per test."""
import logging
from pathlib import Path

import pytest

import mmcyclic  # noqa: F401  (before any test imports mmcv.ops: it picks their ops, mmcyclic/ops)

pytest_plugins = ["pytester"]


def _manager_classes():
    """Every class with its own mmengine instance registry (MMLogger, MessageHub, visualisers)."""
    from mmengine.utils import ManagerMixin
    found, todo = [], [ManagerMixin]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if isinstance(getattr(cls, '_instance_dict', None), dict):
            found.append(cls)
    return found


@pytest.fixture(scope='session')
def mmengine_instances_at_start():
    """The names each mmengine instance registry held before the first test."""
    return {cls: set(cls._instance_dict) for cls in _manager_classes()}


@pytest.fixture(autouse=True)
def fresh_mmengine_instances(mmengine_instances_at_start):
    """Forget the loggers, message hubs and visualisers made since the session started,
    when each test ends (also those a module fixture's runs made).

    mmengine returns an existing instance for a reused name (two runs with one experiment
    or phase name): without this, a later run's visualiser writes into an earlier test's
    directory, which is gone once a passed test's tmp_path is deleted.
    """
    yield
    for cls in _manager_classes():
        for name in set(cls._instance_dict) - mmengine_instances_at_start.get(cls, set()):
            instance = cls._instance_dict.pop(name)
            if isinstance(instance, logging.Logger):
                for handler in list(instance.handlers):
                    if isinstance(handler, logging.FileHandler):
                        handler.close()
                        instance.removeHandler(handler)


@pytest.fixture(scope='session')
def tiny_synthetic(tmp_path_factory) -> Path:
    """6 train / 2 val / 2 test synthetic H&E tiles of 96x96 in the data_format layout."""
    from mmcyclic.datasets.converters.synthetic import convert_synthetic
    out = tmp_path_factory.mktemp('data') / 'synthetic'
    convert_synthetic(out, num_train=6, num_val=2, num_test=2, size=96, seed=3, patch_size=96,
                      progress=False)
    return out
