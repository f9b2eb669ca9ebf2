"""A stand-in for mmcv's compiled extension ``mmcv._ext``: torchvision's RoIAlign and NMS.

mmcv's Python wrappers (``mmcv/ops/roi_align.py``, ``mmcv/ops/nms.py`` of mmcv 2.1.0) call
``ext_module.roi_align_forward``, ``roi_align_backward`` and ``nms`` with the signatures
below; these functions run torchvision's kernels of the same semantics (average RoIAlign
with ``aligned`` and adaptive sampling, greedy NMS with a box's width ``x2 - x1``), so the
wrappers, autograd and mmdet above them are unchanged. They are the only compiled ops that
Mask R-CNN, HoVer-Net and KG Instance reach (training and inference): every other name of
``mmcv._ext`` resolves to a function that raises :class:`MmcvOpNotProvided`, naming the op
and how to get a compiled mmcv. :mod:`mmcyclic.ops.backend` decides when this module stands
in for ``mmcv._ext``.
"""
from typing import Callable

import torch
import torchvision  # noqa: F401  (registers torch.ops.torchvision)
from torch import Tensor

#: What a user runs to get mmcv with its own compiled ops.
COMPILED_MMCV_HINT = (
    'Get mmcv compiled with its ops: `MMCYCLIC_MMCV_OPS=compiled make setup` compiles mmcv '
    '2.1.0 against the pinned torch once (12-18 min on 2 cores; set FORCE_CUDA=1 with a CUDA '
    'toolkit matching torch for a GPU build) and caches the wheel.')

#: The ops of ``mmcv._ext`` this module provides.
PROVIDED_OPS = ('roi_align_forward', 'roi_align_backward', 'nms')

#: mmcv.ops' build-information functions (called by environment reports, not by models).
BUILD_INFO = ('get_compiler_version', 'get_compiling_cuda_version')

_AVERAGE = 1  # mmcv's pool_mode code for 'avg' (0 is 'max')


class MmcvOpNotProvided(NotImplementedError):
    """An mmcv op that needs mmcv's compiled extension, which is not installed."""

    def __init__(self, op: str, detail: str = ''):
        super().__init__(
            f'mmcv op {op!r}{detail} needs mmcv\'s compiled ops, which this environment does '
            f'not have: mmcv was installed without them and mmcyclic provides only '
            f'{", ".join(PROVIDED_OPS)} (from torchvision), the ops its back-ends use. '
            f'{COMPILED_MMCV_HINT}')
        self.op = op


def roi_align_forward(input: Tensor, rois: Tensor, output: Tensor, argmax_y: Tensor,
                      argmax_x: Tensor, aligned_height: int, aligned_width: int,
                      spatial_scale: float, sampling_ratio: int, pool_mode: int,
                      aligned: bool) -> None:
    """Average RoIAlign of ``input`` (N, C, H, W) in ``rois`` (K, 5) into ``output``, in place.

    ``argmax_y``/``argmax_x`` are mmcv's buffers of max pooling, unused here.
    """
    if pool_mode != _AVERAGE:
        raise MmcvOpNotProvided('roi_align_forward', " with pool_mode='max'")
    output.copy_(torch.ops.torchvision.roi_align(
        input, rois, spatial_scale, aligned_height, aligned_width, sampling_ratio, aligned))


def roi_align_backward(grad_output: Tensor, rois: Tensor, argmax_y: Tensor, argmax_x: Tensor,
                       grad_input: Tensor, aligned_height: int, aligned_width: int,
                       spatial_scale: float, sampling_ratio: int, pool_mode: int,
                       aligned: bool) -> None:
    """The gradient of :func:`roi_align_forward` into ``grad_input`` (N, C, H, W), in place."""
    if pool_mode != _AVERAGE:
        raise MmcvOpNotProvided('roi_align_backward', " with pool_mode='max'")
    batch, channels, height, width = grad_input.shape
    grad_input.copy_(torch.ops.torchvision._roi_align_backward(
        grad_output, rois, spatial_scale, aligned_height, aligned_width, batch, channels,
        height, width, sampling_ratio, aligned))


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float, offset: int) -> Tensor:
    """Indices of the boxes (K, 4) kept by greedy NMS, highest score first.

    The result is mmcv's also where scores tie and where an IoU equals the threshold:
    torchvision's kernel visits the boxes in mmcv's order (mmcv's own ``scores.sort``, which
    need not be the stable sort torchvision's uses; here torchvision gets ranks that decrease
    along it) and compares with the threshold rounded to float32, as mmcv's kernel does.
    """
    if offset != 0:
        raise MmcvOpNotProvided('nms', f' with offset={offset}')
    order = scores.sort(0, descending=True)[1]
    ranks = torch.arange(len(order), 0, -1, device=boxes.device).to(boxes.dtype)
    threshold = torch.tensor(float(iou_threshold), dtype=torch.float32).item()
    return order[torch.ops.torchvision.nms(boxes[order], ranks, threshold)]


def get_compiler_version() -> str:
    """What mmcv reports as the compiler of its ops: none here."""
    return 'none (mmcv without compiled ops; RoIAlign and NMS from torchvision via mmcyclic)'


def get_compiling_cuda_version() -> str:
    """What mmcv reports as the CUDA version of its ops: none here."""
    return 'not compiled'


def __getattr__(name: str) -> Callable:
    """Any other op of ``mmcv._ext``: a function that raises :class:`MmcvOpNotProvided`.

    ``mmcv.ops`` checks at import that every op it wraps exists, so each name resolves;
    the error comes only when a model calls an op that is not provided.
    """
    if name.startswith('__'):
        raise AttributeError(name)

    def not_provided(*args, **kwargs):
        raise MmcvOpNotProvided(name)
    not_provided.__name__ = name
    return not_provided
