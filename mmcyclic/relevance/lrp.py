"""Layer-wise relevance propagation (LRP) for the front-end classifier, with zennit.

The paper (§III-A) decomposes the classifier's output for the positive class
down to the input pixels with LRP and thresholds the result into seeds. This
module runs LRP on an mmpretrain ``ImageClassifier``:

* the explained output is the **logit** (pre-softmax) of ``target`` (default
  1 = positive tile), so the initial relevance is that logit;
* rules come from a zennit composite (default ``EpsilonPlusFlat``: Flat rule on
  the first convolution, z+ on the other convolutions, epsilon on the linear
  head, the Norm rule on average pooling and residual sums); its z+ is computed
  by :class:`~mmcyclic.relevance.rules.NonNegativeZPlus` (same relevance, as
  those convolutions read ReLU outputs, with one modified pass instead of two
  and without the ordinary gradient zennit's hooks compute and discard);
* the model is canonised for mmpretrain ResNets first
  (:class:`~mmcyclic.relevance.canonizers.MMPretrainResNetCanonizer`);
* relevance is read at the input pixels and summed over the colour channels.

Conservation: the input relevance of a tile sums to the explained logit minus
what biases absorb (z+ gives positive biases, of the folded BatchNorms, their
share; epsilon gives the head bias its share) and what the stabilisers eat.
With ``zero_params=['bias']`` the sum equals the logit up to the stabiliser.
"""
import inspect
from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import nn
from zennit.composites import COMPOSITES
from zennit.core import Composite
from zennit.types import Convolution

from .base import BaseRelevance, Target
from .builder import RELEVANCE
from .canonizers import MMPretrainResNetCanonizer
from .rules import NonNegativeZPlus


@RELEVANCE.register_module()
class LRP(BaseRelevance):
    """LRP relevance of an mmpretrain CNN classifier.

    Args:
        model: The classifier to explain.
        composite: Name of a zennit composite (``zennit.composites.COMPOSITES``:
            ``'epsilon_plus_flat'`` (default), ``'epsilon_plus'``,
            ``'epsilon_alpha2_beta1_flat'``, ...).
        composite_kwargs: Keyword arguments of the composite, e.g.
            ``dict(epsilon=1e-6, stabilizer=1e-6, zero_params=['bias'])``.
            Composites with a box rule (``'epsilon_gamma_box'``) get ``low`` and
            ``high`` from the data preprocessor (pixel range 0..255) unless given.
        target: Class explained, an index or ``'pred'``.
        difference: Explain the target logit minus the mean of the other logits
            (for two classes: positive minus negative) instead of the target
            logit alone, so evidence the classifier also counts for "no
            nucleus" (e.g. stroma texture) cancels out.
        canonize: Apply the mmpretrain ResNet canonizers (keep True for
            ResNets; the residual sums break conservation without them).
        fast_zplus: With ``'epsilon_plus_flat'``, use
            :class:`~mmcyclic.relevance.rules.NonNegativeZPlus` for the
            convolutions after the first (identical relevance on ReLU inputs,
            at a fraction of the backward cost).
    """

    def __init__(self, model: nn.Module, composite: str = 'epsilon_plus_flat',
                 composite_kwargs: Optional[Dict[str, Any]] = None, target: Target = 1,
                 canonize: bool = True, fast_zplus: bool = True,
                 difference: bool = False) -> None:
        super().__init__(model, target)
        self.difference = difference
        if composite not in COMPOSITES:
            raise KeyError(f'unknown zennit composite "{composite}"; choose one of '
                           f'{sorted(COMPOSITES)}')
        canonizers: Sequence = [MMPretrainResNetCanonizer()] if canonize else []
        kwargs = dict(composite_kwargs or {})
        if {'low', 'high'} <= set(inspect.signature(COMPOSITES[composite]).parameters):
            # Box rules (e.g. epsilon_gamma_box) need the input range: pixel values
            # 0..255 after the classifier's normalisation, per channel.
            bounds = self.normalise(torch.tensor([0.0, 255.0]).view(2, 1, 1, 1).expand(2, 3, 1, 1))
            kwargs.setdefault('low', bounds[:1])  # 1 x 3 x 1 x 1, broadcast by zennit
            kwargs.setdefault('high', bounds[1:])
        if fast_zplus and composite == 'epsilon_plus_flat':
            # The Flat first-layer rule still takes precedence for the first conv,
            # whose (normalised) inputs can be negative.
            fast = NonNegativeZPlus(stabilizer=kwargs.get('stabilizer', 1e-6),
                                    zero_params=kwargs.get('zero_params'))
            kwargs['layer_map'] = list(kwargs.get('layer_map') or []) + [(Convolution, fast)]
        # Built once: registering it costs about one forward pass, so it stays
        # registered for a whole run inside `attached()`.
        self.composite: Composite = COMPOSITES[composite](canonizers=list(canonizers), **kwargs)

    def _attach(self) -> None:
        self.composite.register(self.model)

    def _detach(self) -> None:
        self.composite.remove()

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class logits of normalised inputs."""
        return self.model(inputs, mode='tensor')

    def _compute(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = inputs.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.logits(inputs)
            weights = torch.zeros_like(logits)
            if self.difference:
                weights -= 1.0 / max(logits.shape[1] - 1, 1)
            weights[torch.arange(len(logits)), self.targets(logits)] = 1.0
            # zennit convention: the gradient fed at the output is the initial
            # relevance of each logit. Feeding z_k * c_k makes the linear head pass
            # down sum_k c_k * (contribution to z_k): the relevance of the
            # explained combination (the target logit, or its difference).
            (relevance, ) = torch.autograd.grad(logits, inputs,
                                                grad_outputs=logits.detach() * weights)
        return relevance.sum(dim=1).detach()

    def explain(self, tiles: torch.Tensor) -> Dict[str, Union[torch.Tensor, Any]]:
        """Relevance maps plus the logits and the explained class of each tile."""
        with self.attached():
            inputs = self.normalise(tiles)
            with torch.no_grad():
                logits = self.logits(inputs)
            return {'relevance': self._compute(inputs), 'logits': logits,
                    'target': self.targets(logits)}
