"""Common interface of the relevance methods: RGB tiles in, one map per tile out."""
import contextlib
from abc import ABCMeta, abstractmethod
from typing import Iterator, Union

import torch
from torch import nn

Target = Union[int, str]


class BaseRelevance(metaclass=ABCMeta):
    """Pixel relevance of an mmpretrain ``ImageClassifier`` for one class.

    Subclasses implement :meth:`_compute` on normalised inputs and may keep
    hooks or canonizers registered inside :meth:`attached`, so a long run pays
    for setting them up once.

    Args:
        model: The classifier (``mode='tensor'`` forward gives class logits).
        target: Class explained: an index (1 = positive tile, the paper's
            choice) or ``'pred'`` for each tile's predicted class.
    """

    def __init__(self, model: nn.Module, target: Target = 1) -> None:
        if not (isinstance(target, int) or target == 'pred'):
            raise ValueError(f'target must be a class index or "pred", got {target!r}')
        self.model = model
        self.target = target
        self._attached = False

    def normalise(self, tiles: torch.Tensor) -> torch.Tensor:
        """Apply the classifier's data preprocessor (channel order, mean, std).

        Args:
            tiles: ``B x 3 x H x W`` RGB in 0..255 (what ``LoadTile`` gives).
        """
        pre = self.model.data_preprocessor
        tiles = tiles.float()
        if getattr(pre, '_channel_conversion', False):
            tiles = tiles[:, [2, 1, 0]]
        if getattr(pre, '_enable_normalize', False):
            tiles = (tiles - pre.mean.to(tiles)) / pre.std.to(tiles)
        return tiles

    def targets(self, logits: torch.Tensor) -> torch.Tensor:
        """Class index explained for each tile."""
        if self.target == 'pred':
            return logits.argmax(dim=1)
        return torch.full((logits.shape[0], ), self.target, dtype=torch.long,
                          device=logits.device)

    @contextlib.contextmanager
    def attached(self) -> Iterator['BaseRelevance']:
        """Keep the method's hooks/canonizers on the model for a block of calls.

        The model is put in eval mode and its parameters stop requiring
        gradients (relevance needs input gradients only); everything is
        restored on exit.
        """
        if self._attached:
            yield self
            return
        was_training = self.model.training
        grad_flags = [p.requires_grad for p in self.model.parameters()]
        self.model.eval()
        for param in self.model.parameters():
            param.requires_grad_(False)
        self._attach()
        self._attached = True
        try:
            yield self
        finally:
            self._detach()
            self._attached = False
            for param, flag in zip(self.model.parameters(), grad_flags):
                param.requires_grad_(flag)
            self.model.train(was_training)

    def __call__(self, tiles: torch.Tensor) -> torch.Tensor:
        """Relevance maps ``B x H x W`` (float32) of RGB tiles ``B x 3 x H x W``."""
        with self.attached():
            return self._compute(self.normalise(tiles))

    def _attach(self) -> None:
        """Register hooks/canonizers (default: nothing)."""

    def _detach(self) -> None:
        """Remove what :meth:`_attach` registered (default: nothing)."""

    @abstractmethod
    def _compute(self, inputs: torch.Tensor) -> torch.Tensor:
        """Relevance of normalised inputs, called while attached."""
