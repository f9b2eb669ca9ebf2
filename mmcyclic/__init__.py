"""mmcyclic: Cyclic Learning for nuclei instance segmentation from image-level labels.

Importing the package registers every module into the mmdet / mmpretrain /
mmengine registries, so a config needs only::

    custom_imports = dict(imports=['mmcyclic'], allow_failed_imports=False)

It also makes checkpoint loading work with torch >= 2.6 (safe unpickling with
an allow-list) and checkpoint saving atomic; see :mod:`mmcyclic.utils`. First of
all it gives ``mmcv.ops`` torchvision's RoIAlign and NMS where mmcv was installed
without its compiled ops; see :mod:`mmcyclic.ops`.
"""
from .ops import install_mmcv_ops

install_mmcv_ops()  # before anything below imports mmcv.ops

from .utils.atomic_backend import install_atomic_local_backend  # noqa: E402
from .utils.checkpoint_compat import install_checkpoint_loader  # noqa: E402

install_checkpoint_loader()
install_atomic_local_backend()

# Registration side effects, after the loaders above are installed.
from . import datasets, engine, evaluation, models, ops, relevance, seeds  # noqa: E402,F401

__version__ = '0.1.0'
__all__ = ['datasets', 'engine', 'evaluation', 'models', 'ops', 'relevance', 'seeds', '__version__']
