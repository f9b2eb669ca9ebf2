"""Synthetic H&E tiles -> ``docs/data_format.md`` layout (for tests and smoke runs)."""
import os
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from mmcyclic.datasets.synthetic import synthetic_he_tile

from .writer import Loaded, Sample, write_dataset

PathLike = Union[str, os.PathLike]


def synthetic_samples(num_train: int, num_val: int, num_test: int, size: int = 256,
                      seed: int = 0) -> Tuple[List[Sample], Dict[str, Any]]:
    """Lazy samples ``synth_0000``, ... : the first ``num_train`` train, then val, then test.

    Tile ``i`` is the ``i``-th tile of
    :func:`mmcyclic.datasets.synthetic.generate_synthetic_he` with the same seed.
    """
    total = num_train + num_val + num_test
    children = np.random.SeedSequence(seed).spawn(total)
    splits = ['train'] * num_train + ['val'] * num_val + ['test'] * num_test
    samples = []
    for index, (child, split) in enumerate(zip(children, splits)):
        def load(child=child) -> Loaded:
            image, label_map = synthetic_he_tile(np.random.default_rng(child), size)
            return Loaded(image, label_map)
        samples.append(Sample(f'synth_{index:04d}', split, load, source=f'synthetic #{index}'))
    info = {'seed': seed, 'split_source': f'synthetic: {num_train} train, {num_val} val, '
            f'{num_test} test tiles of {size}x{size} (generate_synthetic_he, seed={seed})'}
    return samples, info


def convert_synthetic(out: PathLike, num_train: int = 12, num_val: int = 4, num_test: int = 4,
                      size: int = 256, seed: int = 0, patch_size: int = 256,
                      overwrite: bool = False, progress: bool = True) -> Dict[str, Any]:
    """Generate synthetic tiles and write them into ``out``; returns the conversion log."""
    samples, info = synthetic_samples(num_train, num_val, num_test, size, seed)
    return write_dataset(samples, out, name='synthetic', patch_size=patch_size, split_info=info,
                         source='mmcyclic.datasets.synthetic.generate_synthetic_he',
                         overwrite=overwrite, progress=progress)
