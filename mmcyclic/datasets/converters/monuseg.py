"""MoNuSeg 2018 (Kumar et al.) -> ``docs/data_format.md`` layout, Kumar or official split.

Source layouts accepted for ``src`` (and ``test_src``), see :func:`find_layout`:

* the official training archive as extracted, ``MoNuSeg 2018 Training Data/``
  with ``Tissue Images/*.tif`` and ``Annotations/*.xml`` (Aperio XML only:
  convert it with ``from_xml=True``);
* the official test archive as extracted, ``MoNuSegTestData/`` with ``*.tif``
  and ``*.xml`` side by side;
* a folder with ``train/images``, ``train/instance_masks`` (label maps),
  ``train/annotations`` (XML) and ``splits.json`` (``images``, ``instance_masks``,
  ``masks`` and ``annotations`` without ``train/`` also work);
* the folder an archive was extracted into, when that archive's folder is its
  only MoNuSeg subfolder.

Kumar split (default; 16 train / 14 test of the 30 training images, used by the
paper and HoVer-Net): test = ``kumar_test`` of ``splits.json`` or, without it,
the 14 ids of :data:`KUMAR_TEST_IDS`; train = ``kumar_train`` or every other
image found. Official split (``test_src`` given): train = every image of
``src``, test = every image of ``test_src``. Either way, validation is 4 of the
training images, :func:`~.splits.seeded_choice` with ``val_seed`` (default 0),
recorded in ``splits.json`` and listed in ``data/README.md`` (the paper chooses
them at random).
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmcyclic.datasets.io import (IMAGE_SUFFIXES, LABEL_SUFFIXES, TIFF_SUFFIXES, read_image,
                                  read_label_map)

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
# The MoNuSeg archives hold TIFF images (PNG in converted copies): the subset of
# IMAGE_SUFFIXES looked for, TIFF first so that a .tif wins over a .png of the same stem.
MONUSEG_IMAGE_SUFFIXES = tuple(s for s in TIFF_SUFFIXES + ('.png', ) if s in IMAGE_SUFFIXES)


IMAGE_DIRS = ('train/images', 'images', 'Tissue Images', 'Tissue_Images')
XML_DIRS = ('train/annotations', 'annotations', 'Annotations')
LABEL_MAP_DIRS = ('train/instance_masks', 'instance_masks', 'masks')
ARCHIVES = ('"MoNuSeg 2018 Training Data" (Tissue Images/ + Annotations/) or MoNuSegTestData '
            '(.tif + .xml side by side)')


@dataclass(frozen=True)
class MonusegLayout:
    """Where the images and annotations of one MoNuSeg source folder are.

    Attributes:
        root: The folder holding them (``src`` or its only MoNuSeg subfolder).
        images: Folder of the images.
        xml: Folder of the Aperio ``.xml`` files, or ``None``.
        label_maps: Folder of instance label maps, or ``None``.
    """

    root: Path
    images: Path
    xml: Optional[Path]
    label_maps: Optional[Path]


def _first_dir(src: Path, candidates: Sequence[str]) -> Optional[Path]:
    return next((src / c for c in candidates if (src / c).is_dir()), None)


def _has_files(folder: Path, suffixes: Sequence[str]) -> bool:
    return any(p.is_file() and p.suffix.lower() in suffixes for p in folder.iterdir())


def _layout_in(folder: Path) -> Optional[MonusegLayout]:
    images = _first_dir(folder, IMAGE_DIRS)
    if images is not None:
        return MonusegLayout(folder, images, _first_dir(folder, XML_DIRS),
                             _first_dir(folder, LABEL_MAP_DIRS))
    if _has_files(folder, MONUSEG_IMAGE_SUFFIXES):  # the official test archive: side by side
        return MonusegLayout(folder, folder, folder if _has_files(folder, ('.xml', )) else None,
                             None)
    return None


def find_layout(src: PathLike) -> MonusegLayout:
    """Find the images and annotations of a MoNuSeg folder (layouts: see the module docstring).

    Args:
        src: The folder extracted from an official archive, this project's
            layout, or the folder an archive was extracted into.

    Returns:
        The folders found.

    Raises:
        FileNotFoundError: ``src`` is missing, holds no MoNuSeg images, or
            holds several MoNuSeg folders; the message says what to pass.
    """
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f'{src}: no such folder. Pass the folder extracted from the '
                                f'MoNuSeg archive: {ARCHIVES}')
    layout = _layout_in(src)
    if layout is not None:
        return layout
    subfolders = sorted(p for p in src.iterdir()
                        if p.is_dir() and not p.name.startswith(('.', '__MACOSX')))
    found = [layout for layout in map(_layout_in, subfolders) if layout is not None]
    if len(found) == 1:
        return found[0]
    if found:
        raise FileNotFoundError(
            f'{src}: holds several MoNuSeg folders ({", ".join(l.root.name for l in found)}); '
            'pass the training one as --src (and the test archive\'s as --test-src)')
    raise FileNotFoundError(
        f'{src}: no MoNuSeg images found (looked for {", ".join(IMAGE_DIRS)} or image files, '
        f'here and one folder down). Pass the folder extracted from the archive: {ARCHIVES}')


def _annotation_dir(layout: MonusegLayout, from_xml: bool) -> Path:
    """The XML or label-map folder of ``layout``; raises with the fix when absent."""
    folder = layout.xml if from_xml else layout.label_maps
    if folder is not None:
        return folder
    if from_xml:
        raise FileNotFoundError(f'{layout.root}: no Aperio XML folder ({", ".join(XML_DIRS)}) and '
                                f'no .xml file next to the images in {layout.images}')
    hint = (f'; it has Aperio XML annotations in {layout.xml}: add --from-xml' if layout.xml
            else '')
    raise FileNotFoundError(f'{layout.root}: no label-map folder '
                            f'({", ".join(LABEL_MAP_DIRS)}){hint}')


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


def _with_val(train: List[str], test: List[str], val_seed: int, num_val: int,
              provenance: Dict[str, Any]) -> Dict[str, Any]:
    """Move ``num_val`` seeded training ids to validation; add the provenance keys."""
    if set(train) & set(test):
        raise ValueError(f'ids in both train and test: {sorted(set(train) & set(test))}')
    val = seeded_choice(train, num_val, val_seed)
    return {
        'train': [i for i in train if i not in val], 'val': val, 'test': test,
        'seed': val_seed, **provenance,
        'val_selection': f'{num_val} of the training images by seeded_choice(seed={val_seed}): '
                         'the ids with the smallest sha256("<seed>:<id>")',
    }


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
    return _with_val(train, test, val_seed, num_val,
                     {'split_source': origin, 'kumar_train': train, 'kumar_test': test})


def official_split(train_ids: Sequence[str], test_ids: Sequence[str], val_seed: int = 0,
                   num_val: int = NUM_VAL) -> Dict[str, Any]:
    """The challenge's split: the training archive's images, then the test archive's.

    Args:
        train_ids: Ids of the training archive's images.
        test_ids: Ids of the test archive's images.
        val_seed: Seed of the validation choice.
        num_val: Number of training images moved to validation.

    Returns:
        ``{'train', 'val', 'test'}`` lists plus provenance keys for ``splits.json``.
    """
    train, test = sorted(train_ids), sorted(test_ids)
    return _with_val(train, test, val_seed, num_val, {
        'split_source': 'official MoNuSeg 2018 split: train = the training archive, '
                        'test = the test archive',
        'official_train': train, 'official_test': test})


def _split_samples(split: Dict[str, Any], images: Dict[str, Path],
                   annotations: Dict[str, Path], ann_dirs: Dict[str, Path], image_dir: Path,
                   from_xml: bool, xml_offset: float) -> List[Any]:
    """A :class:`Sample` (or :class:`Skip` naming the missing file) per id of the split."""
    samples: List[Any] = []
    for name in ('train', 'val', 'test'):
        for sample_id in split[name]:
            image_path, ann_path = images.get(sample_id), annotations.get(sample_id)
            if image_path is None:
                samples.append(Skip(sample_id, 'missing_image',
                                    f'{image_dir}/{sample_id}.*: image not found', name))
            elif ann_path is None:
                samples.append(Skip(sample_id, 'missing_annotation',
                                    f'{image_path}: no annotation {sample_id}.'
                                    f'{"xml" if from_xml else "png"} in '
                                    f'{ann_dirs[sample_id]}', name))
            else:
                samples.append(Sample(sample_id, name, _loader(image_path, ann_path, from_xml,
                                                               xml_offset),
                                      source=f'{image_path} + {ann_path.name}'))
    return samples


def monuseg_samples(src: PathLike, from_xml: bool = False, val_seed: int = 0,
                    num_val: int = NUM_VAL, splits_file: Optional[PathLike] = None,
                    xml_offset: float = 0.0, test_src: Optional[PathLike] = None
                    ) -> Tuple[List[Any], Dict[str, Any]]:
    """Samples (lazy loaders) and split info for a MoNuSeg folder.

    Args:
        src: MoNuSeg folder (see :func:`find_layout`); with ``test_src``, the
            official training archive.
        from_xml: Rasterise the Aperio XML files instead of reading label maps.
            Images without an XML file are then skipped (``missing_annotation``).
        val_seed: Seed of the validation choice.
        num_val: Training images moved to validation.
        splits_file: Kumar split JSON; default ``src/splits.json`` if present.
        xml_offset: ``coordinate_offset`` of the XML rasteriser.
        test_src: The official test archive's folder: use the official split
            (:func:`official_split`) instead of the Kumar split.

    Returns:
        ``(samples, split_info)`` for :func:`~.writer.write_dataset`.

    Raises:
        FileNotFoundError: a folder is missing (the message names the fix).
        ValueError: a bad split file, ``splits_file`` together with ``test_src``,
            or an id in both archives.
    """
    layouts = [find_layout(src)] + ([find_layout(test_src)] if test_src is not None else [])
    images: List[Dict[str, Path]] = []
    annotations: Dict[str, Path] = {}
    ann_dirs: Dict[str, Path] = {}
    for layout in layouts:
        ann_dir = _annotation_dir(layout, from_xml)
        images.append(_by_stem(layout.images, MONUSEG_IMAGE_SUFFIXES))
        annotations.update(_by_stem(ann_dir, ('.xml', ) if from_xml else LABEL_SUFFIXES))
        ann_dirs.update(dict.fromkeys(images[-1], ann_dir))
    if test_src is not None:
        if splits_file is not None:
            raise ValueError(f'{splits_file}: a Kumar split file cannot be combined with '
                             f'--test-src {test_src} (the official split); drop one of them')
        split = official_split(sorted(images[0]), sorted(images[1]), val_seed, num_val)
    else:
        if splits_file is None and (layouts[0].root / 'splits.json').is_file():
            splits_file = layouts[0].root / 'splits.json'
        split = kumar_split(sorted(images[0]), splits_file, val_seed, num_val)
    all_images = {k: v for found in images for k, v in found.items()}
    samples = _split_samples(split, all_images, annotations, ann_dirs, layouts[0].images, from_xml,
                             xml_offset)
    listed = set(split['train']) | set(split['val']) | set(split['test'])
    for sample_id in sorted(set(all_images) - listed):
        samples.append(Skip(sample_id, 'not_in_split',
                            f'{all_images[sample_id]}: not in the split lists'))
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
                    overwrite: bool = False, progress: bool = True,
                    test_src: Optional[PathLike] = None) -> Dict[str, Any]:
    """Convert MoNuSeg into ``out``; returns the conversion log (see :func:`write_dataset`).

    Arguments as for :func:`monuseg_samples` and :func:`~.writer.write_dataset`.
    """
    samples, split = monuseg_samples(src, from_xml, val_seed, num_val, splits_file, xml_offset,
                                     test_src)
    info = {k: v for k, v in split.items() if k not in ('train', 'val', 'test')}
    info['annotation_source'] = 'xml' if from_xml else 'label_maps'
    if from_xml:
        info['xml_offset'] = xml_offset
    return write_dataset(samples, out, name='monuseg', patch_size=patch_size, min_area=min_area,
                         split_info=info, overwrite=overwrite, progress=progress,
                         source=', '.join(str(Path(p).resolve()) for p in (src, test_src) if p))
