"""Helpers for the inference API tests: a ground-truth 'detector' and instance-map checks."""
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from scipy import ndimage

from mmcyclic.apis.tiled_inference import Tile

R18_CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'mask_rcnn_r18_synthetic.py'
TOOLS = Path(__file__).resolve().parents[2] / 'tools'


def max_extent(label_map: np.ndarray) -> int:
    """The largest bounding-box side of any instance (its 'diameter' for tiling)."""
    return max(max(s.stop - s.start for s in box) for box in ndimage.find_objects(label_map) if box)


class GroundTruthDetector:
    """A deterministic fake detector: each tile 'predicts' the GT nuclei visible in it.

    Scores are chosen to stress the stitch rule: a copy cut by the tile border
    scores *higher* than the whole copy, so without the rules of
    :mod:`mmcyclic.evaluation.stitching` cut copies would be placed first.

    Args:
        gt: Full-image instance label map.
        erode_cut: Also shave one pixel off every cut copy (where it is not at
            the tile border), like a model that segments half-seen nuclei poorly.
    """

    def __init__(self, gt: np.ndarray, erode_cut: bool = False) -> None:
        self.gt = gt
        self.areas = np.bincount(gt.ravel())
        self.erode_cut = erode_cut
        self.batches: List[int] = []
        self.windows: List[Tuple[int, int, int, int]] = []

    def __call__(self, tiles: Sequence[Tile]) -> List[Tuple[np.ndarray, np.ndarray]]:
        self.batches.append(len(tiles))
        outputs = []
        for tile in tiles:
            y0, x0, y1, x1 = tile.window
            self.windows.append(tile.window)
            crop = self.gt[y0:y1, x0:x1]
            masks, scores = [], []
            for k in np.unique(crop)[1:]:
                mask = crop == k
                cut = np.count_nonzero(mask) < self.areas[k]
                if cut and self.erode_cut:
                    mask = ndimage.binary_erosion(mask, border_value=1) & mask
                    if not mask.any():
                        continue
                masks.append(mask)
                # Deterministic, distinct scores; cut copies above whole ones.
                scores.append((0.9 if cut else 0.6) + 1e-4 * (int(k) % 97))
            outputs.append((np.array(masks, bool).reshape(-1, y1 - y0, x1 - x0), np.array(scores)))
        return outputs


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two label maps split the image into the same instances (ids may differ)."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return (np.array_equal(a > 0, b > 0) and len(np.unique(pairs[0])) == pairs.shape[1]
            and len(np.unique(pairs[1])) == pairs.shape[1])


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (its ``main(argv)`` returns the exit status)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'{name}_tool', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_random_checkpoint(path: Path) -> Path:
    """Random R18 weights saved like a trained checkpoint (tests must not need a trained model)."""
    import torch

    from mmcyclic.apis import NucleiSegmenter
    torch.manual_seed(0)
    torch.save({'state_dict': NucleiSegmenter(R18_CONFIG).model.state_dict(), 'meta': {}}, path)
    return path
