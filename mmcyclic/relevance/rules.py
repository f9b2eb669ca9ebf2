"""A cheaper z+ rule for layers whose inputs are non-negative."""
from typing import Any, List, Optional, Tuple

import torch
from torch import nn
from zennit.core import BasicHook, ParamMod, Stabilizer
from zennit.rules import ClampMod


class _RelevanceBridge(torch.autograd.Function):
    """Connects a layer's output to its input with the rule as the only backward.

    The layer itself ran on a detached input, so autograd never computes its
    ordinary input gradient, which zennit's hooks compute and then discard.
    """

    @staticmethod
    def forward(ctx: Any, hook: 'NonNegativeZPlus', module: nn.Module, original: torch.Tensor,
                output: torch.Tensor) -> torch.Tensor:
        ctx.hook, ctx.module = hook, module
        ctx.save_for_backward(original)
        return output.clone()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Tuple[None, None, torch.Tensor, None]:
        (original, ) = ctx.saved_tensors
        return None, None, ctx.hook.relevance(ctx.module, original, grad_output), None


class NonNegativeZPlus(BasicHook):
    """z+ rule computed for non-negative inputs only, with a single backward per layer.

    zennit's ``ZPlus`` allows negative inputs, so it evaluates the layer twice
    in the backward pass (``x+ w+`` and ``x- w-``, the latter without bias) and
    takes two gradients. Every convolution of a ResNet except the first reads
    the output of a ReLU (or an average of one), where ``x- = 0`` and the second
    term is exactly zero; this rule drops it and gives the same relevance.
    Inputs are clamped at 0, so on a layer with negative inputs it computes the
    ``x+ w+`` part only.

    zennit's hooks also let autograd back-propagate the ordinary gradient
    through the layer and then replace it; here the layer runs on a detached
    input and :class:`_RelevanceBridge` returns the relevance directly, which
    saves one convolution-sized pass per layer.

    Args:
        stabilizer: Stabiliser of the denominator (as zennit's ``ZPlus``).
        zero_params: Parameter names set to zero, e.g. ``['bias']``.
    """

    def __init__(self, stabilizer: float = 1e-6, zero_params: Optional[List[str]] = None) -> None:
        self.stabilize = Stabilizer.ensure(stabilizer)
        if (isinstance(self.stabilize, Stabilizer) and not self.stabilize.clip
                and not self.stabilize.norm_scale):
            # Clamped inputs and parameters make every output >= 0, where zennit's
            # stabiliser (x + eps * (sign(x) + [x == 0])) is exactly x + eps.
            epsilon = self.stabilize.epsilon
            self.stabilize = lambda output: output + epsilon
        super().__init__(
            input_modifiers=[lambda input: input.clamp(min=0)],
            param_modifiers=[ClampMod(min=0., zero_params=zero_params)],
            output_modifiers=[lambda output: output],
            gradient_mapper=lambda out_grad, outputs: [out_grad / self.stabilize(outputs[0])],
            reducer=lambda inputs, gradients: inputs[0] * gradients[0],
        )

    def copy(self) -> 'NonNegativeZPlus':
        copy = super().copy()
        copy.stabilize = self.stabilize
        return copy

    def pre_forward(self, module: nn.Module, input: Tuple[torch.Tensor, ...]):
        if not (self.active and input[0].requires_grad):
            return None
        self.stored_tensors['original'] = input[0]
        return (input[0].detach(), ) + tuple(input[1:])

    def post_forward(self, module: nn.Module, input: Tuple[torch.Tensor, ...],
                     output: torch.Tensor):
        original = self.stored_tensors.pop('original', None)
        if original is None:
            return None
        return _RelevanceBridge.apply(self, module, original, output)

    def relevance(self, module: nn.Module, original: torch.Tensor,
                  grad_output: torch.Tensor) -> torch.Tensor:
        """The z+ relevance of the layer's input, given the relevance ratio at its output."""
        (in_mod, ), (param_mod, ) = self.input_modifiers, self.param_modifiers
        with torch.enable_grad():
            inputs = [in_mod(original.detach()).requires_grad_()]
            with ParamMod.ensure(param_mod)(module) as modified:
                outputs = [self.output_modifiers[0](modified.forward(inputs[0]))]
            gradients = torch.autograd.grad(outputs, inputs,
                                            grad_outputs=self.gradient_mapper(grad_output, outputs))
        return self.reducer(inputs, gradients)
