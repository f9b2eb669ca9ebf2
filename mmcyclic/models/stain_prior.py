"""Stain prior: hematoxylin blobs without a label are not background.

With K seeds per image, every unlabelled nucleus would be a negative for the
RPN and the RoI head. Nuclei are hematoxylin-rich: a dark blue/purple blob of
nucleus size (``skimage.color.rgb2hed``) that no label covers is handed to the
assigners as an *ignored* instance, so anchors and RoIs on it are neither
positive nor negative (the same mechanism as the label-set rule, see
:class:`~mmcyclic.models.task_modules.MaxIoUAssignerWithIgnoredInstances`);
true background, which is not hematoxylin-positive, stays negative.
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps
from scipy import ndimage
from skimage.color import rgb2hed
from skimage.filters import threshold_otsu
from skimage.morphology import disk, opening


def hematoxylin_blob_boxes(image_rgb: np.ndarray, min_area: int = 30, max_area: int = 2000,
                           threshold: Optional[float] = None, opening_radius: int = 1
                           ) -> np.ndarray:
    """Boxes of hematoxylin-positive blobs of nucleus size.

    Args:
        image_rgb: ``(H, W, 3)`` RGB image, uint8 or floats in ``[0, 255]``.
        min_area: Smallest blob in pixels.
        max_area: Largest blob in pixels (larger = tissue, not one nucleus).
        threshold: Hematoxylin optical density above which a pixel is
            positive; None: Otsu's threshold of the image's H channel.
        opening_radius: Radius of the opening that removes speckle (0: none).

    Returns:
        ``(n, 4)`` float32 boxes ``x1, y1, x2, y2`` (pixel edges).
    """
    rgb = np.clip(np.asarray(image_rgb, dtype=np.float64) / 255.0, 0.0, 1.0)
    hematoxylin = rgb2hed(rgb)[..., 0]
    if threshold is None:
        if np.ptp(hematoxylin) < 1e-6:
            return np.zeros((0, 4), np.float32)
        threshold = threshold_otsu(hematoxylin)
    mask = hematoxylin > threshold
    if opening_radius:
        mask = opening(mask, disk(opening_radius))
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if not count:
        return np.zeros((0, 4), np.float32)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    boxes = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        if found is not None and min_area <= areas[index] <= max_area:
            rows, cols = found
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def unlabelled_blob_boxes(image_rgb: np.ndarray, labelled_boxes: torch.Tensor,
                          max_iou: float = 0.1, **blob_kwargs) -> torch.Tensor:
    """Hematoxylin blobs (:func:`hematoxylin_blob_boxes`) that no labelled box overlaps.

    Args:
        image_rgb: ``(H, W, 3)`` RGB image.
        labelled_boxes: ``(k, 4)`` boxes of every label set's instances.
        max_iou: A blob whose IoU with a labelled box exceeds this is labelled.
        **blob_kwargs: Arguments of :func:`hematoxylin_blob_boxes`.

    Returns:
        ``(n, 4)`` float tensor on ``labelled_boxes``' device.
    """
    blobs = torch.from_numpy(hematoxylin_blob_boxes(image_rgb, **blob_kwargs))
    blobs = blobs.to(labelled_boxes.device)
    if len(blobs) and len(labelled_boxes):
        overlaps = bbox_overlaps(blobs, labelled_boxes.float())
        blobs = blobs[overlaps.max(dim=1).values <= max_iou]
    return blobs


def images_as_rgb(batch_inputs: torch.Tensor, mean: Sequence[float], std: Sequence[float]
                  ) -> np.ndarray:
    """Undo a data preprocessor's normalisation: ``(N, 3, H, W)`` → ``(N, H, W, 3)`` in [0, 255].

    The inputs are in the channel order the model sees (RGB after mmdet's
    ``bgr_to_rgb=True``).
    """
    mean_t = torch.as_tensor(mean, dtype=batch_inputs.dtype, device=batch_inputs.device)
    std_t = torch.as_tensor(std, dtype=batch_inputs.dtype, device=batch_inputs.device)
    images = batch_inputs.detach() * std_t.view(1, -1, 1, 1) + mean_t.view(1, -1, 1, 1)
    return images.permute(0, 2, 3, 1).clamp(0, 255).cpu().numpy()
