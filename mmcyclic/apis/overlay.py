"""Pictures people look at: instance contours over the H&E image."""
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from skimage.segmentation import find_boundaries

from mmcyclic.utils.figures import pyplot, save_figure

Color = Tuple[int, int, int]


def draw_contours(image: np.ndarray, label_map: np.ndarray, color: Color = (0, 255, 0),
                  thickness: int = 1) -> np.ndarray:
    """Return a copy of ``image`` (H×W×3 uint8) with each instance's outline drawn."""
    if image.shape[:2] != label_map.shape:
        raise ValueError(f'image {image.shape[:2]} and label map {label_map.shape} differ in size')
    mode = 'inner' if thickness <= 1 else 'thick'
    edges = find_boundaries(label_map, mode=mode)
    out = image.copy()
    out[edges] = color
    return out


def save_comparison_figure(path: Union[str, os.PathLike], image: np.ndarray,
                           panels: Sequence[Tuple[str, Optional[np.ndarray]]],
                           title: str = '') -> None:
    """Save a row of panels: the image, then one contour overlay per label map.

    Args:
        path: PNG to write (atomically).
        image: H&E image, H×W×3 uint8.
        panels: ``(caption, label_map)`` pairs; ``None`` shows the plain image.
        title: Figure title.
    """
    plt = pyplot()

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3), squeeze=False)
    colors = [(0, 255, 0), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    for k, (ax, (caption, label_map)) in enumerate(zip(axes[0], panels)):
        shown = image if label_map is None else draw_contours(
            image, label_map, colors[k % len(colors)])
        ax.imshow(shown)
        n = '' if label_map is None else (
            f' ({len(np.unique(label_map)) - int((label_map == 0).any())} nuclei)')
        ax.set_title(caption + n, fontsize=10)
        ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
