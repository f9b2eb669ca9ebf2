"""Your own data: a folder of images + a folder of instance label maps.

Images (PNG/JPEG/TIFF/BMP) and label maps (PNG/TIFF/NPY, one integer id per
nucleus, 0 = background; e.g. CCRCC-style instance maps) are matched by file
stem: ``images/a.png`` <-> ``labels/a.tif``. With ``label_suffix='_label'``,
``labels/a_label.png`` matches too. Unmatched or ambiguous files (two images
or two label maps with one stem) are reported by name and skipped; everything
else is converted.

Split: a user JSON file ``{"train": [ids], "val": [ids], "test": [ids]}``
(other keys are ignored; ids listed but missing, and images not listed, are
reported), or a seeded random split (:func:`~.splits.seeded_split`).
"""
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from mmcyclic.datasets.io import IMAGE_SUFFIXES, LABEL_SUFFIXES, read_image, read_label_map

from .splits import SPLITS, seeded_split
from .writer import Loaded, Sample, Skip, write_dataset

PathLike = Union[str, os.PathLike]


def _group_by_stem(folder: Path, suffixes: Tuple[str, ...],
                   strip: str = '') -> Dict[str, List[Path]]:
    groups: Dict[str, List[Path]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith('.'):
            stem = path.stem
            if strip and stem.endswith(strip):
                stem = stem[:-len(strip)]
            groups[stem].append(path)
    return dict(groups)


def read_split_file(path: PathLike) -> Dict[str, List[str]]:
    """Read ``{"train": [...], "val": [...], "test": [...]}``; an id may be in one split only."""
    with open(path, encoding='utf-8') as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise ValueError(f'{path}: expected a JSON object of split -> list of ids')
    split = {name: [str(i) for i in ids] for name, ids in raw.items()
             if isinstance(ids, list) and name in SPLITS}
    if not split:
        raise ValueError(f'{path}: no "train"/"val"/"test" lists found')
    seen: Dict[str, str] = {}
    for name, ids in split.items():
        for sample_id in ids:
            if sample_id in seen:
                raise ValueError(f'{path}: id {sample_id!r} is in both {seen[sample_id]!r} '
                                 f'and {name!r}')
            seen[sample_id] = name
    return split


def generic_samples(images_dir: PathLike, labels_dir: PathLike,
                    split_file: Optional[PathLike] = None, val_fraction: float = 0.2,
                    test_fraction: float = 0.2, seed: int = 0,
                    label_suffix: str = '') -> Tuple[List[Any], Dict[str, Any]]:
    """Samples (lazy loaders) and split info for an images + label maps folder pair.

    Args:
        images_dir: Folder of RGB images.
        labels_dir: Folder of instance label maps.
        split_file: Optional split JSON (see the module docstring).
        val_fraction: Fraction for validation in the random split.
        test_fraction: Fraction for test in the random split.
        seed: Seed of the random split.
        label_suffix: Suffix of label stems to strip before matching.

    Returns:
        ``(samples, split_info)`` for :func:`~.writer.write_dataset`.
    """
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    for folder in (images_dir, labels_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f'{folder}: no such folder')
    images = _group_by_stem(images_dir, IMAGE_SUFFIXES)
    labels = _group_by_stem(labels_dir, LABEL_SUFFIXES, label_suffix)
    problems: List[Skip] = []
    matched: Dict[str, Tuple[Path, Path]] = {}
    for stem in sorted(set(images) | set(labels)):
        image_files, label_files = images.get(stem, []), labels.get(stem, [])
        if len(image_files) > 1 or len(label_files) > 1:
            names = ', '.join(str(p) for p in image_files + label_files)
            problems.append(Skip(stem, 'ambiguous_files', f'several files for one id: {names}'))
        elif not label_files:
            problems.append(Skip(stem, 'unmatched_image',
                                 f'{image_files[0]}: no label map {stem}{label_suffix}.* '
                                 f'in {labels_dir}'))
        elif not image_files:
            problems.append(Skip(stem, 'unmatched_label',
                                 f'{label_files[0]}: no image {stem}.* in {images_dir}'))
        else:
            matched[stem] = (image_files[0], label_files[0])
    if split_file is not None:
        split = read_split_file(split_file)
        info: Dict[str, Any] = {'seed': None, 'split_source': str(split_file)}
        listed = {i for ids in split.values() for i in ids}
        for stem in sorted(set(matched) - listed):
            problems.append(Skip(stem, 'not_in_split', f'{matched[stem][0]}: not listed in '
                                 f'{split_file}'))
        for name, ids in split.items():
            for stem in ids:
                if stem not in matched and stem not in {p.id for p in problems}:
                    problems.append(Skip(stem, 'missing_image', f'{split_file}: id {stem!r} '
                                         f'has no image + label map pair', name))
    else:
        split = seeded_split(sorted(matched), val_fraction, test_fraction, seed)
        info = {'seed': seed, 'split_source': f'seeded_split(val_fraction={val_fraction}, '
                f'test_fraction={test_fraction}, seed={seed})'}
    samples: List[Any] = []
    for name in SPLITS:
        for stem in split.get(name, []):
            if stem in matched:
                image_path, label_path = matched[stem]
                samples.append(Sample(stem, name, _loader(image_path, label_path),
                                      source=f'{image_path} + {label_path.name}'))
    return samples + problems, info


def _loader(image_path: Path, label_path: Path):
    def load() -> Loaded:
        return Loaded(read_image(image_path), read_label_map(label_path))
    return load


def convert_generic(images_dir: PathLike, labels_dir: PathLike, out: PathLike,
                    name: str = 'custom', split_file: Optional[PathLike] = None,
                    val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0,
                    label_suffix: str = '', patch_size: int = 256, min_area: int = 1,
                    overwrite: bool = False, progress: bool = True) -> Dict[str, Any]:
    """Convert a folder pair into ``out``; returns the conversion log."""
    samples, info = generic_samples(images_dir, labels_dir, split_file, val_fraction,
                                    test_fraction, seed, label_suffix)
    return write_dataset(samples, out, name=name, patch_size=patch_size, min_area=min_area,
                         split_info=info, source=f'{Path(images_dir).resolve()} + '
                         f'{Path(labels_dir).resolve()}', overwrite=overwrite, progress=progress)
