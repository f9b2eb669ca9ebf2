"""mmcv's compiled extension beside mmcyclic's torchvision stand-in (helpers of tests/test_ops)."""
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import List, Optional

import mmcv

from mmcyclic.ops import torchvision_ext


def load_compiled_ext() -> ModuleType:
    """mmcv's compiled ``_ext``, also where the stand-in is in use; ImportError where none loads."""
    ext = sys.modules['mmcv._ext']
    if ext is not torchvision_ext:
        return ext
    spec = importlib.machinery.PathFinder.find_spec('_ext', list(mmcv.__path__))
    if spec is None:
        raise ImportError(f'no compiled mmcv._ext in {mmcv.__path__[0]}')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compiled_ext_or_none() -> Optional[ModuleType]:
    """:func:`load_compiled_ext`, or None where mmcv has no compiled ops that load."""
    try:
        return load_compiled_ext()
    except ImportError:
        return None


def mmcv_ops_modules() -> List[ModuleType]:
    """The loaded modules of ``mmcv.ops`` that call into ``mmcv._ext``."""
    return [module for name, module in list(sys.modules.items())
            if name.startswith('mmcv.ops.') and hasattr(module, 'ext_module')]
