"""Whole-image relevance computed tile by tile.

Seeds come from whole images (1000x1000 for MoNuSeg) while the classifier
explains fixed-size windows (224 px, the paper's input). The image is covered
by windows that overlap by at least ``min_overlap`` pixels, spread evenly
(:func:`mmcyclic.datasets.patches.axis_origins`: the first starts at 0, the
last ends at the border), explained in batches, and blended: each window's map
is weighted by a separable Hann window ``w(i) = sin^2(pi (i + 0.5) / T)``
(never exactly 0, so border pixels covered by a single window keep a
weight), and every pixel gets ``sum_k w_k R_k / sum_k w_k``. A window's
centre, where the classifier sees the most context, dominates; its edges fade
into the neighbours, so the blended map has no seams.

Images smaller than a window are padded to one window by mirroring (by
repeating the edge when the image is less than half a window). Tiles may
be explained at another scale (``image_scale``, e.g. when the classifier was
trained on enlarged tiles): the image is resized first and the map resized
back to the image size.
"""
from typing import Callable, Iterable, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from mmcyclic.datasets.patches import axis_origins

RelevanceFn = Callable[[torch.Tensor], torch.Tensor]


def hann_window(size: int) -> np.ndarray:
    """``size x size`` blending weights ``sin^2(pi (i + 0.5) / size)`` (outer product)."""
    w = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(w, w).astype(np.float32)


def window_origins(height: int, width: int, tile_size: int,
                   min_overlap: int) -> List[Tuple[int, int]]:
    """``(y0, x0)`` of the windows covering an image of at least ``tile_size`` per side."""
    return [(y, x) for y in axis_origins(height, tile_size, min_overlap=min_overlap)
            for x in axis_origins(width, tile_size, min_overlap=min_overlap)]


def _batches(items: List, size: int) -> Iterable[List]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def tiled_relevance(image: np.ndarray, relevance_fn: RelevanceFn, tile_size: int = 224,
                    min_overlap: int = 64, batch_size: int = 8,
                    image_scale: float = 1.0) -> np.ndarray:
    """Relevance map of a whole image from overlapping, Hann-blended windows.

    Args:
        image: ``H x W x 3`` uint8 RGB.
        relevance_fn: Maps ``B x 3 x T x T`` float RGB (0..255) tiles to
            ``B x T x T`` relevance, e.g. an :class:`~mmcyclic.relevance.LRP`.
        tile_size: Window side ``T`` in pixels (the classifier input).
        min_overlap: Smallest overlap of neighbouring windows (``< T``).
        batch_size: Windows explained per call of ``relevance_fn``.
        image_scale: Resize factor applied to the image before tiling.

    Returns:
        ``H x W`` float32 relevance map.
    """
    if not 0 <= min_overlap < tile_size:
        raise ValueError(f'min_overlap ({min_overlap}) must be in [0, tile_size={tile_size})')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an H x W x 3 RGB image, got shape {image.shape}')
    height, width = image.shape[:2]
    tensor = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None]
    if image_scale != 1.0:
        size = (max(1, round(height * image_scale)), max(1, round(width * image_scale)))
        tensor = F.interpolate(tensor, size=size, mode='bilinear', align_corners=False)
    scaled_h, scaled_w = tensor.shape[-2:]
    pad_h, pad_w = max(0, tile_size - scaled_h), max(0, tile_size - scaled_w)
    if pad_h or pad_w:  # mirror small images up to one window
        mode = 'reflect' if pad_h < scaled_h and pad_w < scaled_w else 'replicate'
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    full_h, full_w = tensor.shape[-2:]
    weight = hann_window(tile_size)
    total = np.zeros((full_h, full_w), dtype=np.float64)
    norm = np.zeros((full_h, full_w), dtype=np.float64)
    origins = window_origins(full_h, full_w, tile_size, min_overlap)
    for chunk in _batches(origins, batch_size):
        tiles = torch.cat([tensor[..., y:y + tile_size, x:x + tile_size] for y, x in chunk])
        maps = relevance_fn(tiles).detach().float().cpu().numpy()
        for (y, x), tile_map in zip(chunk, maps):
            total[y:y + tile_size, x:x + tile_size] += weight * tile_map
            norm[y:y + tile_size, x:x + tile_size] += weight
    relevance = (total / norm)[:scaled_h, :scaled_w].astype(np.float32)
    if image_scale != 1.0:
        relevance = F.interpolate(torch.from_numpy(relevance)[None, None], size=(height, width),
                                  mode='bilinear', align_corners=False)[0, 0].numpy()
    return relevance
