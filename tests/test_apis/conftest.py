"""Fixtures for the inference API tests: a real MoNuSeg image and crop."""
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest
from skimage.segmentation import relabel_sequential

REPO = Path(__file__).resolve().parents[2]
# ../shared/data next to the repository (read-only; never copied into the repo).
SHARED_DATA = REPO.parent / 'shared' / 'data'
MONUSEG_ID = 'TCGA-18-5592-01Z-00-DX1'


@pytest.fixture(scope='session')
def monuseg_image_path() -> Path:
    """A real 1000x1000 MoNuSeg H&E TIFF (LZW, 2-row strips), or skip with the reason."""
    path = SHARED_DATA / 'monuseg' / 'train' / 'images' / f'{MONUSEG_ID}.tif'
    if not path.is_file():
        pytest.skip(f'real MoNuSeg data not found at {path} (see ../shared/data/SOURCES.md)')
    return path


@pytest.fixture(scope='session')
def monuseg_crop(monuseg_image_path) -> Tuple[np.ndarray, np.ndarray]:
    """The top-left 512x512 of a real MoNuSeg image and its GT, ids relabelled 1..N."""
    from mmcyclic.datasets.io import read_image, read_label_map
    gt_path = monuseg_image_path.parents[1] / 'instance_masks' / f'{MONUSEG_ID}.png'
    image = read_image(monuseg_image_path)[:512, :512]
    gt = relabel_sequential(read_label_map(gt_path)[:512, :512].astype(np.int32))[0]
    return image, gt
