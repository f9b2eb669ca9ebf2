"""HoVer-Net losses with per-pixel weights (weight 0 = ignored pixel).

NP (and TP) branch: cross-entropy on the softmax plus a Dice loss summed over
the channels and taken over the whole batch (official ``dice_loss``, smooth
1e-3). HV branch: mean squared error and the mean squared error of gradients
(MSGE) on nuclear pixels. The weights make label sets and the stain prior
work: a pixel of another set's nucleus or of an unlabelled hematoxylin blob is
neither foreground nor background (weight 0) in CE, Dice and MSE; the MSGE
only counts the set's own nuclear pixels anyway.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def weighted_cross_entropy(logits: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Σ w·CE / Σ w over pixels: ``logits`` ``(N, C, H, W)``, ``target`` and ``weight``
    ``(N, H, W)``. Equals the official mean CE when every weight is 1."""
    loss = F.cross_entropy(logits, target, reduction='none')
    return (loss * weight).sum() / weight.sum().clamp(min=1)


def weighted_dice(logits: Tensor, target: Tensor, weight: Tensor, smooth: float = 1e-3) -> Tensor:
    """Σ_c (1 − (2·Σ w·p_c·t_c + s) / (Σ w·p_c + Σ w·t_c + s)), sums over the batch."""
    num_classes = logits.shape[1]
    prob = logits.softmax(dim=1)
    onehot = F.one_hot(target, num_classes).permute(0, 3, 1, 2).to(prob.dtype)
    w = weight.unsqueeze(1)
    dims = (0, 2, 3)
    inter = (prob * onehot * w).sum(dims)
    total = (prob * w).sum(dims) + (onehot * w).sum(dims)
    return (1 - (2 * inter + smooth) / (total + smooth)).sum()


def weighted_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Mean of w·(p − t)² over pixels and channels: ``pred``/``target`` ``(N, 2, H, W)``,
    ``weight`` ``(N, H, W)``. The official MSE (weights 1) counts background pixels too."""
    w = weight.unsqueeze(1)
    return ((pred - target)**2 * w).sum() / (w.sum() * pred.shape[1]).clamp(min=1)


def sobel_kernels(size: int = 5, cross_derivatives: bool = False,
                  device=None, dtype=torch.float32) -> Tensor:
    """The MSGE's two derivative kernels ``(2, 1, size, size)`` for ``F.conv2d``.

    ``k_x[i, j] = j / (i² + j²)`` (offsets from the centre; 0 at the centre)
    differentiates along x (columns), ``k_y`` along y. With
    ``cross_derivatives`` the two are swapped, which is what the official
    PyTorch code computes (``torch.meshgrid``'s 'ij' indexing makes its
    "horizontal" kernel differentiate along rows): ∂HV_x/∂y and ∂HV_y/∂x.
    """
    offsets = torch.arange(size, device=device, dtype=dtype) - size // 2
    rows, cols = torch.meshgrid(offsets, offsets, indexing='ij')
    norm = rows**2 + cols**2
    norm[size // 2, size // 2] = 1  # the centre entry is 0 either way
    k_x, k_y = cols / norm, rows / norm
    kernels = (k_y, k_x) if cross_derivatives else (k_x, k_y)
    return torch.stack(kernels).unsqueeze(1)


def hv_gradients(hv: Tensor, cross_derivatives: bool = False) -> Tensor:
    """``(N, 2, H, W)`` → ∂HV_x/∂x and ∂HV_y/∂y (or the cross terms, see :func:`sobel_kernels`)."""
    kernels = sobel_kernels(5, cross_derivatives, hv.device, hv.dtype)
    return F.conv2d(hv, kernels, padding=2, groups=2)


def msge(pred: Tensor, target: Tensor, focus: Tensor, cross_derivatives: bool = False) -> Tensor:
    """Mean squared error of the HV gradients on ``focus`` pixels (the set's nuclei).

    Args:
        pred: ``(N, 2, H, W)`` predicted HV maps.
        target: ``(N, 2, H, W)`` HV targets.
        focus: ``(N, H, W)`` 1 on the pixels to count (GT nuclear pixels).
        cross_derivatives: The official code's kernels (see :func:`sobel_kernels`).
    """
    diff = hv_gradients(pred, cross_derivatives) - hv_gradients(target, cross_derivatives)
    f = focus.unsqueeze(1).to(diff.dtype)
    return (diff**2 * f).sum() / (f.sum() * pred.shape[1] + 1e-8)
