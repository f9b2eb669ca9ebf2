"""``init_cfg=dict(type='PretrainedBackbone', checkpoint=PATH)``: ImageNet weights for a backbone.

The configs' ``pretrained`` switch (:func:`mmcyclic.utils.config.apply_pretrained`)
puts this on the backbone of both ends of the cycle, so the classifier f^C and
the detector f^S start from the same tensors. Unlike mmengine's ``Pretrained``
it takes torchvision files as well as mmpretrain ones, maps their keys to the
backbone's (see :mod:`.weights_file`), and refuses a file that does not fit
instead of loading what it can.
"""
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import nn

from .weights_file import backbone_weights_for


def keep_loaded(backbone: nn.Module) -> None:
    """Stop ``backbone``'s own ``init_weights`` from redrawing what was just loaded.

    mmengine applies a non-``Pretrained`` initialiser before the sub-modules'
    ``init_weights`` (Swin's attention redraws its relative position bias
    there), and mmpretrain's ResNet zeroes the last norm of every block after
    them (``zero_init_residual``, skipped for ``Pretrained`` only).
    """
    for module in backbone.modules():
        if module is not backbone and isinstance(module, BaseModule):
            module.is_init = True
    if getattr(backbone, 'zero_init_residual', False):
        backbone.zero_init_residual = False


@WEIGHT_INITIALIZERS.register_module(name='PretrainedBackbone')
class PretrainedBackboneInit:
    """Load a local ImageNet checkpoint into an mmpretrain ResNet or SwinTransformer.

    Registered in mmengine's root ``WEIGHT_INITIALIZERS``, so both the mmdet and
    the mmpretrain scope find it. Nothing is downloaded.

    Args:
        checkpoint (str): mmpretrain checkpoint (``backbone.*`` keys or a bare
            backbone state dict) or torchvision ``resnet*`` / ``swin_t`` state dict.

    Raises:
        ConfigError: when called, if the file is missing, its keys match no
            layout or its architecture is not the backbone's.
    """

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        self.wholemodule = False  # set by mmengine's initialize(); unused

    def __call__(self, module: nn.Module) -> None:
        weights = backbone_weights_for(module, self.checkpoint)
        module.load_state_dict(weights.tensors, strict=False)
        keep_loaded(module)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
        print_log(f'{type(module).__name__}: {len(weights.tensors)} tensors from '
                  f'{self.checkpoint} ({weights.layout}, {weights.architecture}); left out: '
                  f'{weights.left_out or "none"}; initial values kept: '
                  f'{weights.kept_initial or "none"}', logger='current')

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load backbone from {self.checkpoint}'
