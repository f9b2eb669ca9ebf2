"""Running a second mmengine Runner (the classifier's) inside a running one."""
from contextlib import contextmanager
from typing import Iterator, List

from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.visualization import Visualizer


def _manager_classes(outer: Runner) -> List[type]:
    classes = [DefaultScope, MMLogger, MessageHub, Visualizer, type(outer.visualizer)]
    return list(dict.fromkeys(classes))


@contextmanager
def outer_instances_stay_current(outer: Runner) -> Iterator[None]:
    """After the block, the outer runner's logger, scope, message hub and
    visualiser are the "current" instances again.

    A Runner registers its own instances of these global managers, and library
    code (``print_log(logger='current')``, registry lookups, hooks reading the
    current message hub) uses the newest one; without this, the classifier's
    runner would keep receiving the detector's log lines and registry lookups
    would resolve in the mmpretrain scope.
    """
    current = {cls: cls.get_current_instance().instance_name
               for cls in _manager_classes(outer) if cls._instance_dict}
    try:
        yield
    finally:
        for cls, name in current.items():
            if name in cls._instance_dict:
                cls._instance_dict.move_to_end(name)
