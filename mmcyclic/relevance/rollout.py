"""Attention rollout (Abnar & Zuidema, 2020) for mmpretrain's Swin Transformer.

Rollout explains a transformer by following attention from the output tokens
back to the input tokens. A block's token mixing is ``x + Attn(x)``, so its
effect on the token graph is ``A_hat = 0.5 A + 0.5 I`` (each row sums to 1),
and the whole network is the product ``R = A_hat_n ... A_hat_1`` over the
blocks (rows: output tokens, columns: input tokens; the FFNs act per token and
mix nothing). Swin needs three additions:

1. **Windows.** A Swin block attends inside ``w x w`` windows only. Its
   token x token matrix over the whole stage grid is block-diagonal: the
   attention of window ``k`` (averaged over heads, or their max/min:
   ``head_fusion``) fills the rows and columns of the tokens of window ``k``;
   every other entry is 0.
2. **Shifted windows.** Odd blocks roll the grid by ``-s`` (``s = w // 2``)
   before windowing and roll it back after. The rolled position ``p``
   holds the token at ``(p + s) mod H_pad`` of the (padded) grid, so each
   window's matrix is placed at the un-rolled token positions ("shift
   undone"). Pad tokens (the grid is padded up to a multiple of ``w``) are no
   image content: their columns are dropped and each row re-normalised to 1
   before ``A_hat`` is formed, and their rows are never reached.
3. **Patch merging.** Between stages each 2x2 group of tokens becomes one
   token. Going from a stage's grid back to the previous one, a parent
   token's weight is split equally over its (up to 4) children, i.e. the
   rollout is multiplied by the merging matrix ``M[parent, child] = 1/#children``,
   whose rows also sum to 1.

The classifier averages the last-stage tokens (GAP) before its linear head,
so the image-level map is ``u^T A_hat_n ... M ... A_hat_1`` for a weight
vector ``u`` over the last-stage tokens:

* ``token_weighting='mean'``: ``u = 1/L``, the class-agnostic rollout of the
  paper's reference [61] (the map sums to 1 over the patches);
* ``token_weighting='class'``: ``u_t`` proportional to the positive part of the
  token's contribution to the explained logit, ``max(0, w_c . z_t) / L``
  (``z_t`` = normalised last-stage token, ``w_c`` = the head's weights for
  class ``c``); the map sums to ``sum_t u_t``, so windows with more class
  evidence weigh more when maps are blended.

Only the vector ``u^T R`` is needed, so it is propagated backwards block by
block (``v <- 0.5 v + 0.5 v A``, done window by window) instead of forming the
``L x L`` products: O(L w^2) per block instead of O(L^3). The last vector
lives on the stage-0 token grid; each token is a ``p x p`` patch of the input
(``p`` = the patch embedding's stride, 4 for Swin-T), so the pixel map
repeats each token value over its patch, divided by ``p^2``.

Attention is read with forward hooks: a pre-hook on every ``ShiftWindowMSA``
records the grid size and the effective shift (mmpretrain turns the shift off
when the grid equals the window and ``pad_small_map`` is False), and a hook on
its ``WindowMSA``'s softmax records the attention probabilities.
"""
from dataclasses import dataclass
from typing import List, Optional

import torch
from mmpretrain.models.utils.attention import ShiftWindowMSA
from torch import nn

from .base import BaseRelevance, Target
from .builder import RELEVANCE

HEAD_FUSIONS = ('mean', 'max', 'min')
TOKEN_WEIGHTINGS = ('mean', 'class')


@dataclass
class BlockAttention:
    """Attention of one Swin block over its stage grid.

    Attributes:
        height: Grid rows (tokens, before window padding).
        width: Grid columns.
        window: Window side ``w``.
        shift: Effective cyclic shift ``s`` (0 for regular windows).
        attn: ``B x nW x N x N`` attention probabilities, heads fused,
            windows in mmpretrain's order (row-major over the padded, rolled
            grid), ``N = w * w``.
    """

    height: int
    width: int
    window: int
    shift: int
    attn: Optional[torch.Tensor] = None


def _to_windows(grid: torch.Tensor, window: int) -> torch.Tensor:
    """``B x Hp x Wp`` -> ``B x nW x N`` in mmpretrain's window order."""
    b, hp, wp = grid.shape
    grid = grid.view(b, hp // window, window, wp // window, window).permute(0, 1, 3, 2, 4)
    return grid.reshape(b, -1, window * window)


def _from_windows(windows: torch.Tensor, hp: int, wp: int, window: int) -> torch.Tensor:
    """Inverse of :func:`_to_windows`."""
    b = windows.shape[0]
    grid = windows.view(b, hp // window, wp // window, window, window).permute(0, 1, 3, 2, 4)
    return grid.reshape(b, hp, wp)


def propagate_block(v: torch.Tensor, block: BlockAttention,
                    residual: float = 0.5) -> torch.Tensor:
    """``v <- (1 - residual) v + residual v A`` for one block (rows = output tokens).

    Args:
        v: ``B x H x W`` weights on the block's output tokens.
        block: The block's attention.
        residual: Weight of the attention term (0.5 = Abnar's ``0.5 A + 0.5 I``).

    Returns:
        ``B x H x W`` weights on the block's input tokens.
    """
    h, w, k, s = block.height, block.width, block.window, block.shift
    hp, wp = -(-h // k) * k, -(-w // k) * k
    padded = v.new_zeros(v.shape[0], hp, wp)
    padded[:, :h, :w] = v
    valid = v.new_zeros(1, hp, wp)
    valid[:, :h, :w] = 1
    if s:
        padded = torch.roll(padded, shifts=(-s, -s), dims=(1, 2))
        valid = torch.roll(valid, shifts=(-s, -s), dims=(1, 2))
    attn = block.attn * _to_windows(valid, k)[:, :, None, :]  # drop pad columns
    attn = attn / attn.sum(-1, keepdim=True).clamp_min(torch.finfo(attn.dtype).tiny)
    mixed = torch.einsum('bwn,bwnm->bwm', _to_windows(padded, k), attn)
    mixed = _from_windows(mixed, hp, wp, k)
    if s:
        mixed = torch.roll(mixed, shifts=(s, s), dims=(1, 2))
    return (1 - residual) * v + residual * mixed[:, :h, :w]


def unmerge(v: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Split each parent token's weight equally over its 2x2 children.

    Args:
        v: ``B x ceil(height/2) x ceil(width/2)`` weights after patch merging.
        height: Child grid rows.
        width: Child grid columns.
    """
    children = v.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)[:, :height, :width]
    ones = torch.ones(1, 1, height, width, dtype=v.dtype, device=v.device)
    # Children per parent: 4, fewer on the last row/column of an odd grid.
    per_parent = torch.nn.functional.avg_pool2d(ones, 2, ceil_mode=True, divisor_override=1)[0]
    per_child = per_parent.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    return children / per_child[:, :height, :width]


def rollout_tokens(u: torch.Tensor, blocks: List[BlockAttention],
                   residual: float = 0.5) -> torch.Tensor:
    """Propagate last-stage token weights ``u`` back to the stage-0 tokens.

    Args:
        u: ``B x H_last x W_last`` weights on the last block's output tokens.
        blocks: Every block's attention in forward order.
        residual: See :func:`propagate_block`.

    Returns:
        ``B x H_0 x W_0`` weights on the first block's input tokens.
    """
    v = u
    for block in reversed(blocks):
        if v.shape[1:] != (block.height, block.width):
            v = unmerge(v, block.height, block.width)
        v = propagate_block(v, block, residual)
    return v


@RELEVANCE.register_module()
class AttentionRollout(BaseRelevance):
    """Attention-rollout relevance of an mmpretrain Swin Transformer classifier.

    Args:
        model: ``ImageClassifier`` with a ``SwinTransformer`` backbone, a GAP
            neck and a linear head.
        head_fusion: How the heads' attentions are fused: ``'mean'``
            (Abnar & Zuidema), ``'max'`` or ``'min'``.
        token_weighting: ``'mean'`` (class-agnostic rollout) or ``'class'``
            (last-stage tokens weighted by their evidence for ``target``).
        target: Class for ``token_weighting='class'``: an index or ``'pred'``.
        residual: Weight of attention against identity per block (0.5).
    """

    def __init__(self, model: nn.Module, head_fusion: str = 'mean',
                 token_weighting: str = 'mean', target: Target = 1,
                 residual: float = 0.5) -> None:
        super().__init__(model, target)
        if head_fusion not in HEAD_FUSIONS:
            raise ValueError(f'head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}')
        if token_weighting not in TOKEN_WEIGHTINGS:
            raise ValueError(f'token_weighting must be one of {TOKEN_WEIGHTINGS}, '
                             f'got {token_weighting!r}')
        self.attention_modules = [m for m in model.modules() if isinstance(m, ShiftWindowMSA)]
        if not self.attention_modules:
            raise TypeError('AttentionRollout needs an mmpretrain SwinTransformer backbone '
                            '(no ShiftWindowMSA module found); use LRP for CNNs.')
        self.head_fusion = head_fusion
        self.token_weighting = token_weighting
        self.residual = residual
        self.blocks: List[BlockAttention] = []
        self._features: Optional[torch.Tensor] = None
        self._handles: list = []

    # ----------------------------------------------------------------- hooks
    def _record_grid(self, module: ShiftWindowMSA, args: tuple) -> None:
        height, width = args[1]
        shift = module.shift_size
        if min(height, width) == module.window_size and not module.pad_small_map:
            shift = 0  # what ShiftWindowMSA.forward does
        self.blocks.append(BlockAttention(int(height), int(width), module.window_size, shift))

    def _record_attention(self, module: nn.Module, args: tuple, attn: torch.Tensor) -> None:
        block = self.blocks[-1]
        k = block.window
        n_windows = (-(-block.height // k)) * (-(-block.width // k))
        attn = attn.detach().view(-1, n_windows, attn.shape[1], k * k, k * k)
        fused = {'mean': attn.mean, 'max': lambda dim: attn.amax(dim),
                 'min': lambda dim: attn.amin(dim)}[self.head_fusion](2)
        block.attn = fused

    def _record_features(self, module: nn.Module, args: tuple) -> None:
        feats = args[0]
        self._features = (feats[-1] if isinstance(feats, (tuple, list)) else feats).detach()

    def _attach(self) -> None:
        for module in self.attention_modules:
            self._handles.append(module.register_forward_pre_hook(self._record_grid))
            self._handles.append(module.w_msa.softmax.register_forward_hook(self._record_attention))
        self._handles.append(self.model.neck.register_forward_pre_hook(self._record_features))

    def _detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ----------------------------------------------------------- computation
    def _token_weights(self, logits: torch.Tensor) -> torch.Tensor:
        feats = self._features  # B x C x H x W, normalised last-stage tokens
        b, _, h, w = feats.shape
        if self.token_weighting == 'mean':
            return feats.new_full((b, h, w), 1.0 / (h * w))
        weights = self.model.head.fc.weight[self.targets(logits)]  # B x C
        contribution = torch.einsum('bchw,bc->bhw', feats, weights) / (h * w)
        return contribution.clamp_min(0)

    def _compute(self, inputs: torch.Tensor) -> torch.Tensor:
        self.blocks = []
        with torch.no_grad():
            logits = self.model(inputs, mode='tensor')
            tokens = rollout_tokens(self._token_weights(logits), self.blocks, self.residual)
        stride = self.model.backbone.patch_embed.projection.stride
        pixels = tokens.repeat_interleave(stride[0], dim=1).repeat_interleave(stride[1], dim=2)
        pixels = pixels / (stride[0] * stride[1])
        height, width = inputs.shape[-2:]
        out = pixels.new_zeros(pixels.shape[0], height, width)
        h, w = min(height, pixels.shape[1]), min(width, pixels.shape[2])
        out[:, :h, :w] = pixels[:, :h, :w]
        return out
