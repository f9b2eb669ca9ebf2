"""HoVer-Net training targets from instance masks: nuclear pixels (NP) and
horizontal/vertical distances to each nucleus' centre of mass (HV).

Computed in torch on the loss device from ``gt_instances.masks`` (mmdet
``BitmapMasks``/``PolygonMasks`` or a bool tensor), every instance at once
(``bincount``/``scatter_reduce`` over an instance-id map), so label sets and
the stain prior need no transform of their own.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample
from torch import Tensor


def instance_id_map(masks: Tensor) -> Tensor:
    """``(n, H, W)`` bool masks → ``(H, W)`` long map, 0 = background, ``k + 1`` = instance k.

    A pixel covered by several masks (overlapping pseudo labels) goes to the
    last of them, as when the masks are painted into a label map in order.
    """
    n = masks.shape[0]
    if n == 0:
        return torch.zeros(masks.shape[-2:], dtype=torch.long, device=masks.device)
    ids = torch.arange(1, n + 1, device=masks.device).view(n, 1, 1)
    return (masks.long() * ids).amax(dim=0)


def _normalise_per_instance(offsets: Tensor, index: Tensor, num: int) -> Tensor:
    """Negative offsets divided by their instance's largest |negative|, positive ones by
    its largest positive: each side spans [−1, 1] on its own (as the official targets)."""
    zeros = offsets.new_zeros(num)
    neg_max = zeros.scatter_reduce(0, index, (-offsets).clamp(min=0), 'amax')
    pos_max = zeros.scatter_reduce(0, index, offsets.clamp(min=0), 'amax')
    scale = torch.where(offsets < 0, neg_max[index], pos_max[index]).clamp(min=1)
    return offsets / scale


def hover_targets(masks: Tensor, min_hv_area: int = 30) -> Tuple[Tensor, Tensor]:
    """NP and HV targets of one image.

    Args:
        masks: ``(n, H, W)`` bool instance masks.
        min_hv_area: Instances with fewer pixels get no HV target (0) but stay
            nuclear in NP (official: ``remove_small_objects(min_size=30)``).

    Returns:
        ``np`` ``(H, W)`` long (1 = nuclear pixel) and ``hv`` ``(2, H, W)`` float:
        channel 0 = x (column) offset to the instance's rounded centre of mass,
        channel 1 = y (row) offset, each side normalised to [−1, 1]; 0 on
        background and at the centre.
    """
    ids = instance_id_map(masks.bool())
    return (ids > 0).long(), hv_from_id_map(ids, masks.shape[0], min_hv_area)


def hv_from_id_map(ids: Tensor, num_instances: int, min_hv_area: int = 30) -> Tensor:
    """The HV target ``(2, H, W)`` of an instance-id map (see :func:`hover_targets`)."""
    height, width = ids.shape
    hv = torch.zeros((2, height, width), dtype=torch.float32, device=ids.device)
    flat = ids.flatten()
    foreground = torch.nonzero(flat, as_tuple=True)[0]
    if not len(foreground):
        return hv
    index = flat[foreground]
    rows = torch.div(foreground, width, rounding_mode='floor').float()
    cols = (foreground % width).float()
    num = num_instances + 1
    area = torch.bincount(index, minlength=num).float()
    # Centre of mass rounded half up, as int(com + 0.5) in the official code.
    centre_y = torch.floor(torch.bincount(index, rows, minlength=num) / area.clamp(min=1) + .5)
    centre_x = torch.floor(torch.bincount(index, cols, minlength=num) / area.clamp(min=1) + .5)
    keep = (area[index] >= min_hv_area).float()
    hv_flat = hv.view(2, -1)
    hv_flat[0, foreground] = _normalise_per_instance(cols - centre_x[index], index, num) * keep
    hv_flat[1, foreground] = _normalise_per_instance(rows - centre_y[index], index, num) * keep
    return hv


def sample_masks(sample: DetDataSample, shape: Tuple[int, int],
                 device: Optional[torch.device] = None) -> Tensor:
    """The sample's ``gt_instances.masks`` as an ``(n, H, W)`` bool tensor, padded or
    cropped at the bottom/right to ``shape`` (the batch's padded shape)."""
    masks = sample.gt_instances.get('masks')
    if masks is None:
        raise ValueError('HoVerNet needs instance masks: load them with '
                         "dict(type='LoadAnnotations', with_bbox=True, with_mask=True) in "
                         'train_dataloader.dataset.pipeline')
    tensor = masks if isinstance(masks, Tensor) else masks.to_tensor(torch.bool, device)
    tensor = tensor.to(device=device, dtype=torch.bool).reshape(-1, *tensor.shape[-2:])
    out = torch.zeros((tensor.shape[0], *shape), dtype=torch.bool, device=device)
    h, w = min(shape[0], tensor.shape[1]), min(shape[1], tensor.shape[2])
    out[:, :h, :w] = tensor[:, :h, :w]
    return out


def batch_targets(samples: Sequence[DetDataSample], shape: Tuple[int, int],
                  device: Optional[torch.device] = None, min_hv_area: int = 30
                  ) -> Tuple[Tensor, Tensor, Tensor]:
    """Targets of a batch, padded to ``shape``.

    Returns:
        NP ``(N, H, W)`` long, HV ``(N, 2, H, W)`` float and the type map
        ``(N, H, W)`` long (0 = background, ``label + 1`` on an instance's pixels).
    """
    nps, hvs, types = [], [], []
    for sample in samples:
        masks = sample_masks(sample, shape, device)
        ids = instance_id_map(masks)
        nps.append((ids > 0).long())
        hvs.append(hv_from_id_map(ids, masks.shape[0], min_hv_area))
        labels = sample.gt_instances.labels.to(device=ids.device, dtype=torch.long)
        types.append(torch.cat([labels.new_zeros(1), labels + 1])[ids])
    return torch.stack(nps), torch.stack(hvs), torch.stack(types)
