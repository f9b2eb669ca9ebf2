"""MoNuSeg 2018 (Kumar et al.) -> ``docs/data_format.md`` layout, Kumar split.

Source layouts found automatically under ``src`` (first match wins):

* images: ``train/images``, ``images``, ``Tissue Images``, ``Tissue_Images``;
* label maps (default source): ``train/instance_masks``, ``instance_masks``, ``masks``;
* Aperio XML (``from_xml=True``): ``train/annotations``, ``annotations``, ``Annotations``;
* the split: ``splits.json`` with ``kumar_train``/``kumar_test`` lists.

Split: the Kumar split (16 train / 14 test, used by the paper and HoVer-Net).
Test = ``kumar_test`` of ``splits.json`` or, without it, the 14 ids of
:data:`KUMAR_TEST_IDS`; train = ``kumar_train`` or every other image found.
The paper validates on 4 of the 16 training images chosen at random; here they
are :func:`~.splits.seeded_choice` of the 16 with ``val_seed`` (default 0),
recorded in ``splits.json`` and listed in ``data/README.md``.
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmcyclic.datasets.io import LABEL_SUFFIXES, read_image, read_label_map

from .monuseg_xml import xml_to_label_map
from .splits import seeded_choice
from .writer import Loaded, Sample, Skip, write_dataset

PathLike = Union[str, os.PathLike]

# Kumar-split test images (official-code-facts.md §4: the code's VAL_IMAGE_IDS).
KUMAR_TEST_IDS = (
    'TCGA-21-5784-01Z-00-DX1', 'TCGA-21-5786-01Z-00-DX1', 'TCGA-AY-A8YK-01A-01-TS1',
    'TCGA-B0-5698-01Z-00-DX1', 'TCGA-B0-5710-01Z-00-DX1', 'TCGA-CH-5767-01Z-00-DX1',
    'TCGA-DK-A2I6-01A-01-TS1', 'TCGA-E2-A14V-01Z-00-DX1', 'TCGA-E2-A1B5-01Z-00-DX1',
    'TCGA-G2-A2EK-01A-02-TSB', 'TCGA-G9-6362-01Z-00-DX1', 'TCGA-KB-A93J-01A-01-TS1',
    'TCGA-NH-A8F7-01A-01-TS1', 'TCGA-RD-A8N9-01A-01-TS1')
NUM_VAL = 4
IMAGE_SUFFIXES = ('.tif', '.tiff', '.png')


def _first_dir(src: Path, candidates: Sequence[str]) -> Optional[Path]:
    return next((src / c for c in candidates if (src / c).is_dir()), None)


def _by_stem(folder: Optional[Path], suffixes: Sequence[str]) -> Dict[str, Path]:
    if folder is None:
        return {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    found: Dict[str, Path] = {}
    for path in files:  # first suffix in `suffixes` order wins for a stem
        if path.stem not in found or (suffixes.index(path.suffix.lower())
                                      < suffixes.index(found[path.stem].suffix.lower())):
            found[path.stem] = path
    return found


def kumar_split(image_ids: Sequence[str], splits_file: Optional[PathLike] = None,
                val_seed: int = 0, num_val: int = NUM_VAL) -> Dict[str, Any]:
    """The Kumar train/val/test split for the given image ids.

    Args:
        image_ids: Ids of the images found.
        splits_file: JSON with ``kumar_train`` and ``kumar_test`` lists; if
            ``None``, test is :data:`KUMAR_TEST_IDS` and train every other id.
        val_seed: Seed of the validation choice.
        num_val: Number of training images moved to validation.

    Returns:
        ``{'train', 'val', 'test'}`` lists plus provenance keys for ``splits.json``.
    """
    if splits_file is not None:
        with open(splits_file, encoding='utf-8') as handle:
            lists = json.load(handle)
        if 'kumar_train' not in lists or 'kumar_test' not in lists:
            raise ValueError(f'{splits_file}: needs "kumar_train" and "kumar_test" lists')
        train, test = sorted(lists['kumar_train']), sorted(lists['kumar_test'])
        origin = f'Kumar split from {splits_file}'
    else:
        test = sorted(KUMAR_TEST_IDS)
        train = sorted(set(image_ids) - set(test))
        origin = 'Kumar split: test ids hard-coded (KUMAR_TEST_IDS), train = all other images'
    if set(train) & set(test):
        raise ValueError(f'ids in both train and test: {sorted(set(train) & set(test))}')
    val = seeded_choice(train, num_val, val_seed)
    return {
        'train': [i for i in train if i not in val], 'val': val, 'test': test,
        'seed': val_seed, 'split_source': origin, 'kumar_train': train, 'kumar_test': test,
        'val_selection': f'{num_val} of kumar_train by seeded_choice(seed={val_seed}): the ids '
                         'with the smallest sha256("<seed>:<id>")',
    }


def monuseg_samples(src: PathLike, from_xml: bool = False, val_seed: int = 0,
                    num_val: int = NUM_VAL, splits_file: Optional[PathLike] = None,
                    xml_offset: float = 0.0) -> Tuple[List[Any], Dict[str, Any]]:
    """Samples (lazy loaders) and split info for a MoNuSeg folder.

    Args:
        src: MoNuSeg folder (see the module docstring for the layouts).
        from_xml: Rasterise the Aperio XML files instead of reading label maps.
            Images without an XML file are then skipped (``missing_annotation``).
        val_seed: Seed of the validation choice.
        num_val: Training images moved to validation.
        splits_file: Split JSON; default ``src/splits.json`` if present.
        xml_offset: ``coordinate_offset`` of the XML rasteriser.

    Returns:
        ``(samples, split_info)`` for :func:`~.writer.write_dataset`.
    """
    src = Path(src)
    images_dir = _first_dir(src, ('train/images', 'images', 'Tissue Images', 'Tissue_Images'))
    if images_dir is None:
        raise FileNotFoundError(f'{src}: no image folder (train/images, images or Tissue Images)')
    if from_xml:
        ann_dir = _first_dir(src, ('train/annotations', 'annotations', 'Annotations'))
        annotations = _by_stem(ann_dir, ('.xml', ))
    else:
        ann_dir = _first_dir(src, ('train/instance_masks', 'instance_masks', 'masks'))
        annotations = _by_stem(ann_dir, LABEL_SUFFIXES)
    if ann_dir is None:
        raise FileNotFoundError(f'{src}: no {"XML" if from_xml else "label-map"} folder found')
    images = _by_stem(images_dir, IMAGE_SUFFIXES)
    if splits_file is None and (src / 'splits.json').is_file():
        splits_file = src / 'splits.json'
    split = kumar_split(sorted(images), splits_file, val_seed, num_val)
    samples: List[Any] = []
    for name in ('train', 'val', 'test'):
        for sample_id in split[name]:
            image_path, ann_path = images.get(sample_id), annotations.get(sample_id)
            if image_path is None:
                samples.append(Skip(sample_id, 'missing_image',
                                    f'{images_dir}/{sample_id}.*: image not found', name))
            elif ann_path is None:
                samples.append(Skip(sample_id, 'missing_annotation',
                                    f'{image_path}: no annotation {sample_id}.'
                                    f'{"xml" if from_xml else "png"} in {ann_dir}', name))
            else:
                samples.append(Sample(sample_id, name, _loader(image_path, ann_path, from_xml,
                                                               xml_offset),
                                      source=f'{image_path} + {ann_path.name}'))
    listed = set(split['train']) | set(split['val']) | set(split['test'])
    for sample_id in sorted(set(images) - listed):
        samples.append(Skip(sample_id, 'not_in_split',
                            f'{images[sample_id]}: not in the Kumar split lists'))
    return samples, split


def _loader(image_path: Path, ann_path: Path, from_xml: bool, xml_offset: float):
    def load() -> Loaded:
        image = read_image(image_path)
        if from_xml:
            label_map, counts, messages = xml_to_label_map(ann_path, *image.shape[:2],
                                                           coordinate_offset=xml_offset)
            return Loaded(image, label_map, counts, messages)
        return Loaded(image, read_label_map(ann_path))
    return load


def convert_monuseg(src: PathLike, out: PathLike, from_xml: bool = False, val_seed: int = 0,
                    num_val: int = NUM_VAL, splits_file: Optional[PathLike] = None,
                    patch_size: int = 256, min_area: int = 1, xml_offset: float = 0.0,
                    overwrite: bool = False, progress: bool = True) -> Dict[str, Any]:
    """Convert MoNuSeg into ``out``; returns the conversion log (see :func:`write_dataset`)."""
    samples, split = monuseg_samples(src, from_xml, val_seed, num_val, splits_file, xml_offset)
    info = {k: v for k, v in split.items() if k not in ('train', 'val', 'test')}
    info['annotation_source'] = 'xml' if from_xml else 'label_maps'
    if from_xml:
        info['xml_offset'] = xml_offset
    return write_dataset(samples, out, name='monuseg', patch_size=patch_size, min_area=min_area,
                         split_info=info, source=str(Path(src).resolve()), overwrite=overwrite,
                         progress=progress)
