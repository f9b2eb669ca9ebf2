"""zennit canonizers for mmpretrain ResNets (``BasicBlock`` / ``Bottleneck``).

LRP rules assume a network made of linear layers and activations. An
mmpretrain ResNet differs from that in three ways, each fixed here:

1. **BatchNorm** after a convolution is folded into the convolution
   (``zennit.canonizers.NamedMergeBatchNorm``). The (conv, norm) pairs are
   found by mmpretrain's naming: a module with ``conv{k}`` and a
   ``norm{k}_name`` attribute (the stem and every block: the norms are called
   ``bn{k}`` but are reached through the ``norm{k}`` properties, so the real
   name is read from ``norm{k}_name``), a ``ConvModule`` (``conv`` + its
   ``norm_name``, deep stems) and a convolution directly followed by a norm
   inside an ``nn.Sequential`` (``downsample.0`` / ``downsample.1``, or
   ``downsample.1`` / ``downsample.2`` after the ``avg_down`` pooling).
2. **Residual sums** ``out += identity`` are invisible to module hooks, so
   relevance would pass them as a plain gradient and grow without bound
   (~240x on ResNet-18). The block's ``forward`` is replaced by one that
   stacks both branches and adds them with ``zennit.layer.Sum``, which the
   composites give the Norm rule (relevance split in proportion to each
   branch's contribution).
3. **In-place ReLUs** would overwrite tensors that zennit's hooks keep; they
   are switched to out-of-place while canonised.

Removing the canonizer restores the weights, the forwards and the flags; the
outputs of the canonised model equal the original ones (up to float
rounding of the folded BatchNorm).
"""
from typing import List, Optional, Tuple

import torch
from mmcv.cnn import ConvModule
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from torch import nn
from zennit.canonizers import AttributeCanonizer, Canonizer, CompositeCanonizer, NamedMergeBatchNorm
from zennit.layer import Sum

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def conv_norm_pairs(root: nn.Module) -> List[Tuple[Tuple[str], str]]:
    """``[((conv name,), norm name), ...]`` of every BatchNorm that directly follows a conv.

    Names are relative to ``root`` (the module the composite is registered on).
    """
    pairs = []
    for prefix, module in root.named_modules():
        dot = f'{prefix}.' if prefix else ''
        if isinstance(module, ConvModule):
            if module.with_norm and isinstance(module.norm, _NORM) and \
                    module.order.index('conv') < module.order.index('norm'):
                pairs.append(((f'{dot}conv', ), f'{dot}{module.norm_name}'))
            continue
        for k in range(1, 4):
            conv = getattr(module, f'conv{k}', None)
            norm_name = getattr(module, f'norm{k}_name', None)
            if isinstance(conv, _CONV) and norm_name and \
                    isinstance(getattr(module, norm_name), _NORM):
                pairs.append(((f'{dot}conv{k}', ), f'{dot}{norm_name}'))
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for (conv_name, conv), (norm_name, norm) in zip(children, children[1:]):
                if isinstance(conv, _CONV) and isinstance(norm, _NORM):
                    pairs.append(((f'{dot}{conv_name}', ), f'{dot}{norm_name}'))
    return pairs


class MMPretrainResidualCanonizer(AttributeCanonizer):
    """Route the residual sum of mmpretrain ``BasicBlock``/``Bottleneck`` through ``Sum``."""

    def __init__(self) -> None:
        super().__init__(self._attribute_map)

    @classmethod
    def _attribute_map(cls, name: str, module: nn.Module) -> Optional[dict]:
        if isinstance(module, Bottleneck):
            forward = cls.bottleneck_forward
        elif isinstance(module, BasicBlock):
            forward = cls.basic_block_forward
        else:
            return None
        # Stacked on a new leading axis: summing contiguous halves is much cheaper
        # than zennit's default trailing axis (twice per block with the Norm rule).
        return {'forward': forward.__get__(module), 'canonizer_sum': Sum(dim=0)}

    @staticmethod
    def _add(self: nn.Module, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.canonizer_sum(torch.stack([identity, self.drop_path(out)], dim=0))
        return self.relu(out)

    @staticmethod
    def basic_block_forward(self: BasicBlock, x: torch.Tensor) -> torch.Tensor:
        """``BasicBlock.forward`` with the residual added by ``canonizer_sum``."""
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return MMPretrainResidualCanonizer._add(self, out, x)

    @staticmethod
    def bottleneck_forward(self: Bottleneck, x: torch.Tensor) -> torch.Tensor:
        """``Bottleneck.forward`` with the residual added by ``canonizer_sum``."""
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        return MMPretrainResidualCanonizer._add(self, out, x)


class OutOfPlaceReLU(Canonizer):
    """Switch in-place ReLUs to out-of-place while canonised (zennit hooks keep tensors)."""

    def __init__(self) -> None:
        self.modules: List[nn.Module] = []

    def apply(self, root_module: nn.Module) -> List[Canonizer]:
        instance = OutOfPlaceReLU()
        instance.modules = [m for m in root_module.modules()
                            if isinstance(m, nn.ReLU) and m.inplace]
        for module in instance.modules:
            module.inplace = False
        return [instance]

    def register(self) -> None:
        """Nothing to do: :meth:`apply` switches the flags."""

    def remove(self) -> None:
        for module in self.modules:
            module.inplace = True
        self.modules = []

    def copy(self) -> 'OutOfPlaceReLU':
        return OutOfPlaceReLU()


class MMPretrainResNetCanonizer(CompositeCanonizer):
    """All canonizers an mmpretrain ResNet needs for LRP (see the module docstring).

    The BatchNorm pairs are looked up when the canonizer is applied, so one
    instance works for any depth and for ``deep_stem``/``avg_down`` variants.
    """

    def __init__(self) -> None:
        super().__init__((MMPretrainResidualCanonizer(), OutOfPlaceReLU()))

    def apply(self, root_module: nn.Module) -> List[Canonizer]:
        merge = NamedMergeBatchNorm(conv_norm_pairs(root_module))
        return merge.apply(root_module) + super().apply(root_module)
