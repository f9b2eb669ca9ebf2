"""Keypoint-graph targets of KG Instance (Yi et al., MICCAI 2019), built with torch.

A box gives five keypoints: its corners ``tl, tr, bl, br`` and its centre; the
graph joins every pair (10 edges, 20 directed). At each output stride ``s`` of
the head and for every keypoint type:

- the heatmap target is a binary disc of radius ``R`` around each keypoint (not
  a Gaussian); a pixel inside two discs of the same type belongs to the nearest
  keypoint (the paper's tie rule);
- the short offset of a disc pixel is ``keypoint − pixel`` (pixels at stride ``s``);
- the mid offset of directed edge ``(a, b)`` on a pixel of ``a``'s disc is
  ``keypoint_b − pixel`` (the same instance's ``b``).

A box takes part at stride ``s`` only if its width and height there exceed
``min_size`` (the paper: ``2R + 1``); smaller objects are another scale's job.

The official code (``preprocessing.py``) has two bugs that are not reproduced:
its short offsets ignore the disc owner (``temp_map[np.where(mask)==0,:]=0``
does nothing, so a later instance overwrites an earlier one's offsets on
shared pixels; here each pixel takes its owner's offset), and it crashes on a
batch without boxes (here every map is simply background).

Coordinates: the pixel ``(i, j)`` of a stride-``s`` map covers image pixels
``[j·s, (j+1)·s)``; its centre is image point ``((j + 0.5)·s, (i + 0.5)·s)``.
"""
import math
from typing import Dict, Tuple

import torch
from torch import Tensor

KEYPOINT_NAMES = ('tl', 'tr', 'bl', 'br', 'centre')
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
EDGES = tuple((a, b) for a in range(NUM_KEYPOINTS) for b in range(a + 1, NUM_KEYPOINTS))
#: Directed edges: ``EDGES`` then each reversed; mid-offset channels ``2e, 2e+1`` are edge ``e``.
DIRECTED_EDGES = EDGES + tuple((b, a) for a, b in EDGES)


def box_keypoints(boxes: Tensor) -> Tensor:
    """``(n, 4)`` xyxy boxes → ``(n, 5, 2)`` keypoints (x, y): tl, tr, bl, br, centre."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([torch.stack([x1, y1], -1), torch.stack([x2, y1], -1),
                        torch.stack([x1, y2], -1), torch.stack([x2, y2], -1),
                        torch.stack([(x1 + x2) / 2, (y1 + y2) / 2], -1)], dim=1)


def image_to_map(points: Tensor, stride: int) -> Tensor:
    """Image coordinates → stride-``stride`` map coordinates (pixel centres at integers)."""
    return points / stride - 0.5


def map_to_image(points: Tensor, stride: int) -> Tensor:
    """Inverse of :func:`image_to_map`."""
    return (points + 0.5) * stride


def pixel_grid(shape: Tuple[int, int], device=None) -> Tensor:
    """``(h·w, 2)`` float (x, y) coordinates of a map's pixels, row-major."""
    height, width = shape
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32),
                            indexing='ij')
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def keypoint_targets(boxes: Tensor, stride: int, shape: Tuple[int, int], radius: float,
                     min_size: float) -> Dict[str, Tensor]:
    """Heatmap, short- and mid-offset targets of one image at one stride.

    Args:
        boxes: ``(n, 4)`` xyxy boxes in image pixels.
        stride: Output stride ``s`` of the maps.
        shape: ``(h, w)`` of the stride-``s`` maps.
        radius: Disc radius ``R`` in map pixels.
        min_size: A box takes part only if its width and height at stride
            ``s`` exceed this.

    Returns:
        ``heatmap`` ``(5, h, w)`` float (1 on discs), ``short`` ``(10, h, w)``
        (x, y per keypoint type), ``mid`` ``(40, h, w)`` (x, y per directed edge
        of :data:`DIRECTED_EDGES`), and ``num_boxes`` (how many boxes took part).
    """
    height, width = shape
    device = boxes.device
    heatmap = torch.zeros((NUM_KEYPOINTS, height * width), device=device)
    short = torch.zeros((NUM_KEYPOINTS, 2, height * width), device=device)
    mid = torch.zeros((len(DIRECTED_EDGES), 2, height * width), device=device)
    boxes = boxes.reshape(-1, 4).float()
    sizes = (boxes[:, 2:] - boxes[:, :2]) / stride
    boxes = boxes[(sizes > min_size).all(dim=1)]
    if len(boxes):
        keypoints = image_to_map(box_keypoints(boxes), stride)  # (n, 5, 2)
        reach = int(math.ceil(radius)) + 1
        window = torch.arange(-reach, reach + 1, device=device, dtype=torch.float32)
        window = torch.stack(torch.meshgrid(window, window, indexing='xy'), -1).reshape(-1, 2)
        for kind in range(NUM_KEYPOINTS):
            owner, pixels = _disc_owners(keypoints[:, kind], window, radius, (height, width))
            heatmap[kind, pixels] = 1
            short[kind][:, pixels] = (keypoints[owner, kind] - _xy(pixels, width)).T
            for edge, (start, end) in enumerate(DIRECTED_EDGES):
                if start == kind:
                    mid[edge][:, pixels] = (keypoints[owner, end] - _xy(pixels, width)).T
    return dict(heatmap=heatmap.reshape(NUM_KEYPOINTS, height, width),
                short=short.reshape(2 * NUM_KEYPOINTS, height, width),
                mid=mid.reshape(2 * len(DIRECTED_EDGES), height, width),
                num_boxes=torch.tensor(len(boxes), device=device))


def _xy(pixels: Tensor, width: int) -> Tensor:
    """Flat pixel indices → ``(m, 2)`` float (x, y)."""
    return torch.stack([pixels % width, torch.div(pixels, width, rounding_mode='floor')],
                       1).float()


def _disc_owners(points: Tensor, window: Tensor, radius: float,
                 shape: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """The pixels within ``radius`` of any point and, for each, the nearest point's index.

    Only a window around each point is visited (``O(n·R²)``, not ``O(n·h·w)``).

    Returns:
        ``owner`` ``(m,)`` point indices and ``pixels`` ``(m,)`` flat pixel indices.
    """
    height, width = shape
    candidates = points.round()[:, None, :] + window[None]  # (n, P, 2)
    distance = (candidates - points[:, None, :]).norm(dim=-1)
    owner = torch.arange(len(points), device=points.device)[:, None].expand_as(distance)
    inside = ((distance <= radius) & (candidates[..., 0] >= 0) & (candidates[..., 0] < width)
              & (candidates[..., 1] >= 0) & (candidates[..., 1] < height))
    distance, owner, candidates = distance[inside], owner[inside], candidates[inside].long()
    pixels = candidates[:, 1] * width + candidates[:, 0]
    nearest = torch.full((height * width, ), float('inf'), device=points.device)
    nearest.scatter_reduce_(0, pixels, distance, reduce='amin')
    wins = distance <= nearest[pixels]
    # An exact tie keeps the lower index (the first box), deterministically.
    first = torch.full((height * width, ), len(points), device=points.device, dtype=torch.long)
    first.scatter_reduce_(0, pixels[wins], owner[wins], reduce='amin')
    pixels = torch.unique(pixels[wins])
    return first[pixels], pixels
