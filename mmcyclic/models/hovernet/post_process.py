"""HoVer-Net post-processing: marker-controlled watershed from NP probability and HV maps.

The steps and constants of the official ``post_proc.py`` (tuned for 40×,
0.25 µm/px), with OpenCV (a dependency of mmcv) for the Sobel, blur and
opening, scipy for labelling and hole filling, scikit-image for the watershed:

1. blobs = NP ≥ ``np_thr``, components under ``min_blob_area`` px dropped;
2. HV channels min-max normalised over the tile (so the result depends on the
   rest of the tile, as in the official code); Sobel (``sobel_ksize``) of x
   along x and of y along y, each ``1 − minmax``; ``edges = max`` of the two,
   0 outside the blobs;
3. ``dist = −GaussianBlur((1 − edges)·blobs, blur_ksize)``;
4. markers = blobs without ``edges ≥ marker_thr``, holes filled, opened with
   an ellipse (``opening_ksize``), labelled, under ``min_marker_area`` px dropped;
5. ``watershed(dist, markers, mask=blobs)``.
"""
from typing import Tuple

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential, watershed


def remove_small_labels(labels: np.ndarray, min_area: int) -> np.ndarray:
    """``labels`` with every label of fewer than ``min_area`` pixels set to 0 (in place)."""
    if min_area > 0 and labels.any():
        areas = np.bincount(labels.ravel())
        small = areas < min_area
        small[0] = False
        labels[small[labels]] = 0
    return labels


def _minmax(x: np.ndarray) -> np.ndarray:
    low, high = float(x.min()), float(x.max())
    if high <= low:
        return np.zeros_like(x, dtype=np.float32)
    return ((x - low) / (high - low)).astype(np.float32)


def hovernet_label_map(np_prob: np.ndarray, hv: np.ndarray, np_thr: float = 0.5,
                       min_blob_area: int = 10, sobel_ksize: int = 21, blur_ksize: int = 3,
                       marker_thr: float = 0.4, opening_ksize: int = 5,
                       min_marker_area: int = 10) -> np.ndarray:
    """Instances of one image from its NP probability and HV maps.

    Args:
        np_prob: ``(H, W)`` nuclear-pixel probability.
        hv: ``(2, H, W)`` predicted x and y maps.
        np_thr, min_blob_area, sobel_ksize, blur_ksize, marker_thr, opening_ksize,
        min_marker_area: See the module doc (defaults: the official constants).

    Returns:
        ``(H, W)`` int32 label map, instances numbered 1..n, 0 = background.
    """
    blobs, _ = ndimage.label(np_prob >= np_thr)
    blobs = (remove_small_labels(blobs, min_blob_area) > 0).astype(np.float32)
    if not blobs.any():
        return np.zeros(np_prob.shape, np.int32)
    edge_x = cv2.Sobel(_minmax(hv[0]), cv2.CV_32F, 1, 0, ksize=sobel_ksize)
    edge_y = cv2.Sobel(_minmax(hv[1]), cv2.CV_32F, 0, 1, ksize=sobel_ksize)
    edges = np.maximum(1 - _minmax(edge_x), 1 - _minmax(edge_y))
    edges = np.clip(edges - (1 - blobs), 0, None)
    dist = -cv2.GaussianBlur((1 - edges) * blobs, (blur_ksize, blur_ksize), 0)
    markers = np.clip(blobs - (edges >= marker_thr), 0, None).astype(bool)
    markers = ndimage.binary_fill_holes(markers).astype(np.uint8)
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opening_ksize, opening_ksize))
    markers = cv2.morphologyEx(markers, cv2.MORPH_OPEN, ellipse)
    markers = remove_small_labels(ndimage.label(markers)[0], min_marker_area)
    labels = watershed(dist, markers=markers, mask=blobs.astype(bool))
    return relabel_sequential(labels.astype(np.int32))[0]


def instances_from_label_map(labels: np.ndarray, np_prob: np.ndarray
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes, scores and masks of a label map numbered 1..n.

    Returns:
        ``bboxes`` ``(n, 4)`` float32 xyxy (x2, y2 one past the last pixel, as
        mmdet's ``BitmapMasks.get_bboxes``), ``scores`` ``(n,)`` float32 = mean
        NP probability of the instance's pixels, ``masks`` ``(n, H, W)`` bool.
    """
    n = int(labels.max()) if labels.size else 0
    if n == 0:
        return (np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                np.zeros((0, *labels.shape), bool))
    flat = labels.ravel()
    areas = np.bincount(flat, minlength=n + 1)[1:]
    sums = np.bincount(flat, weights=np_prob.ravel(), minlength=n + 1)[1:]
    scores = (sums / np.maximum(areas, 1)).astype(np.float32)
    boxes = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop)
                      for s in ndimage.find_objects(labels, max_label=n)], np.float32)
    masks = labels[None] == np.arange(1, n + 1, dtype=labels.dtype)[:, None, None]
    return boxes, scores, masks
