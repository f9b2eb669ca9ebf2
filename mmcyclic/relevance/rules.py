"""A cheaper z+ rule for layers whose inputs are non-negative."""
from typing import List, Optional

from zennit.core import BasicHook, Stabilizer
from zennit.rules import ClampMod


class NonNegativeZPlus(BasicHook):
    """z+ rule computed for non-negative inputs only.

    zennit's ``ZPlus`` allows negative inputs, so it evaluates the layer twice
    in the backward pass (``x+ w+`` and ``x- w-``, the latter without bias) and
    takes two gradients. Every convolution of a ResNet except the first reads
    the output of a ReLU (or an average of one), where ``x- = 0`` and the second
    term is exactly zero; this rule drops it and gives the same relevance at
    half the backward cost. Inputs are clamped at 0, so on a layer with negative
    inputs it computes the ``x+ w+`` part only.

    Args:
        stabilizer: Stabiliser of the denominator (as zennit's ``ZPlus``).
        zero_params: Parameter names set to zero, e.g. ``['bias']``.
    """

    def __init__(self, stabilizer: float = 1e-6, zero_params: Optional[List[str]] = None) -> None:
        stabilize = Stabilizer.ensure(stabilizer)
        super().__init__(
            input_modifiers=[lambda input: input.clamp(min=0)],
            param_modifiers=[ClampMod(min=0., zero_params=zero_params)],
            output_modifiers=[lambda output: output],
            gradient_mapper=lambda out_grad, outputs: [out_grad / stabilize(outputs[0])],
            reducer=lambda inputs, gradients: inputs[0] * gradients[0],
        )
