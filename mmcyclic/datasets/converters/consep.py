"""CoNSeP (Graham et al., HoVer-Net) -> ``docs/data_format.md`` layout.

The CoNSeP download holds ``Train/Images/<stem>.png`` (27 images) with
``Train/Labels/<stem>.mat`` and ``Test/...`` (14 images); each ``.mat`` has
``inst_map`` (H x W, 0 = background, k = nucleus k; also ``type_map``,
``inst_type``, ``inst_centroid``, unused here). ``instance_map`` is accepted
too (the naming of the official Cyclic code's CCRCC/CoNSeP crops).

Split: the official one, Test -> ``test``; of Train, ``num_val`` (1, as the
paper: 26 train + 1 val) image is moved to ``val`` by
:func:`~.splits.seeded_choice` with ``val_seed``, recorded in ``splits.json``.
"""
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from mmcyclic.datasets.io import IMAGE_SUFFIXES, read_image

from .splits import seeded_choice
from .writer import ConversionError, Loaded, Sample, Skip, write_dataset

PathLike = Union[str, os.PathLike]
INSTANCE_KEYS = ('inst_map', 'instance_map')


def read_consep_mat(path: PathLike) -> np.ndarray:
    """Read the instance map of a CoNSeP ``.mat`` label file as int64.

    Raises:
        ConversionError: unreadable file, no ``inst_map``/``instance_map``,
            not 2-D or not integer-valued.
    """
    from scipy.io import loadmat
    path = Path(path)
    try:
        mat = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError) as error:
        # MATLAB v7.3 files are HDF5 and raise NotImplementedError here.
        raise ConversionError(f'{path}: cannot read .mat file ({error})', 'unreadable') from error
    key = next((k for k in INSTANCE_KEYS if k in mat), None)
    if key is None:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise ConversionError(f'{path}: no instance map ({" or ".join(INSTANCE_KEYS)}); '
                              f'variables found: {found}', 'malformed_annotation')
    inst = np.asarray(mat[key])
    if inst.ndim != 2:
        raise ConversionError(f'{path}: {key} must be 2-D, got shape {inst.shape}',
                              'malformed_annotation')
    if not np.issubdtype(inst.dtype, np.integer):
        # CoNSeP stores inst_map as float64 holding integers.
        if not (np.issubdtype(inst.dtype, np.floating) and np.all(np.mod(inst, 1) == 0)):
            raise ConversionError(f'{path}: {key} holds non-integer values', 'malformed_annotation')
    if inst.size and inst.min() < 0:
        raise ConversionError(f'{path}: {key} holds negative ids', 'malformed_annotation')
    return inst.astype(np.int64)


def _find_dir(parent: Path, name: str) -> Optional[Path]:
    """``parent/name`` matched case-insensitively (``Train`` vs ``train``)."""
    if not parent.is_dir():
        return None
    return next((p for p in sorted(parent.iterdir())
                 if p.is_dir() and p.name.lower() == name.lower()), None)


def _subset(src: Path, subset: str) -> Tuple[Dict[str, Path], Dict[str, Path], Optional[Path]]:
    folder = _find_dir(src, subset)
    images_dir = _find_dir(folder, 'Images') if folder else None
    labels_dir = _find_dir(folder, 'Labels') if folder else None
    images = {p.stem: p for p in sorted(images_dir.iterdir())
              if p.suffix.lower() in IMAGE_SUFFIXES} if images_dir else {}
    labels = {p.stem: p for p in sorted(labels_dir.iterdir())
              if p.suffix.lower() == '.mat'} if labels_dir else {}
    return images, labels, labels_dir


def consep_samples(src: PathLike, val_seed: int = 0,
                   num_val: int = 1) -> Tuple[List[Any], Dict[str, Any]]:
    """Samples (lazy loaders) and split info for a CoNSeP folder.

    Returns:
        ``(samples, split_info)`` for :func:`~.writer.write_dataset`.
    """
    src = Path(src)
    train_images, train_labels, train_label_dir = _subset(src, 'Train')
    test_images, test_labels, test_label_dir = _subset(src, 'Test')
    if not train_images and not test_images:
        raise FileNotFoundError(f'{src}: no Train/Images or Test/Images with images')
    val = seeded_choice(sorted(set(train_images) & set(train_labels)), num_val, val_seed)
    samples: List[Any] = []
    for images, labels, label_dir, subset in ((train_images, train_labels, train_label_dir,
                                               'train'),
                                              (test_images, test_labels, test_label_dir, 'test')):
        for stem in sorted(set(images) | set(labels)):
            split = 'val' if stem in val else subset
            if stem not in labels:
                samples.append(Skip(stem, 'missing_annotation', f'{images[stem]}: no '
                                    f'{stem}.mat in {label_dir}', split))
            elif stem not in images:
                samples.append(Skip(stem, 'missing_image', f'{labels[stem]}: no image '
                                    f'{stem}.png next to it', split))
            else:
                samples.append(Sample(stem, split, _loader(images[stem], labels[stem]),
                                      source=f'{images[stem]} + {labels[stem].name}'))
    info = {'seed': val_seed, 'split_source': 'CoNSeP official Train/Test folders',
            'val_selection': f'{num_val} of Train by seeded_choice(seed={val_seed}): the ids '
                             'with the smallest sha256("<seed>:<id>")',
            'val_ids': val}
    return samples, info


def _loader(image_path: Path, label_path: Path):
    def load() -> Loaded:
        return Loaded(read_image(image_path), read_consep_mat(label_path))
    return load


def convert_consep(src: PathLike, out: PathLike, val_seed: int = 0, num_val: int = 1,
                   patch_size: int = 256, min_area: int = 1, overwrite: bool = False,
                   progress: bool = True) -> Dict[str, Any]:
    """Convert CoNSeP into ``out``; returns the conversion log."""
    samples, info = consep_samples(src, val_seed, num_val)
    return write_dataset(samples, out, name='consep', patch_size=patch_size, min_area=min_area,
                         split_info=info, source=str(Path(src).resolve()), overwrite=overwrite,
                         progress=progress)
