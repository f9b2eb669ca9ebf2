"""Image-level labelled tiles for the front-end classifier f^C (the paper's D^C).

A user gives positive tiles (hold nuclei) and negative tiles (hold none), of
any size, in one of two layouts:

* **folder**: ``<data_root>/pos/*`` and ``<data_root>/neg/*`` (also accepted:
  ``positive/`` and ``negative/``); every readable image file is a tile.
* **CSV**: ``ann_file`` with rows ``path,label`` (an optional header row
  ``path,label``); ``path`` is relative to ``data_root`` (absolute paths are
  kept); ``label`` is ``pos``/``positive``/``1`` or ``neg``/``negative``/``0``.

Class indices: 0 = negative, 1 = positive (the paper explains the positive
class). Every tile is decoded once when the dataset is built: unreadable files
(missing, truncated, not an image) and CSV rows with an unknown label are left
out, reported by name in the log and counted in :attr:`bad_files`. Random
224x224 crops (the paper's input) are taken by the pipeline, e.g. mmpretrain's
``RandomCrop(crop_size=224, pad_if_needed=True)`` after :class:`LoadTile`.
"""
import csv
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS, TRANSFORMS

from .io import IMAGE_SUFFIXES, ImageReadError, read_image

TILE_CLASSES = ('negative', 'positive')
LABEL_NAMES = {'neg': 0, 'negative': 0, '0': 0, 'pos': 1, 'positive': 1, '1': 1}
FOLDER_NAMES = {'neg': 0, 'negative': 0, 'pos': 1, 'positive': 1}


def _folder_rows(root: str) -> List[Tuple[str, str]]:
    """``(path, label name)`` for every image file under the class folders of ``root``."""
    rows = []
    for folder in sorted(os.listdir(root)) if osp.isdir(root) else []:
        if folder.lower() not in FOLDER_NAMES or not osp.isdir(osp.join(root, folder)):
            continue
        for dirpath, _, files in sorted(os.walk(osp.join(root, folder))):
            rows += [(osp.join(dirpath, name), folder.lower()) for name in sorted(files)
                     if name.lower().endswith(IMAGE_SUFFIXES)]
    return rows


def _csv_rows(path: str) -> List[Tuple[str, str]]:
    """``(path, label)`` rows of a ``path,label`` CSV (header optional)."""
    with open(path, newline='', encoding='utf-8') as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][:2]] == ['path', 'label']:
        rows = rows[1:]
    return [(row[0].strip(), row[1].strip() if len(row) > 1 else '') for row in rows]


@DATASETS.register_module()
class ImageLabelTileDataset(BaseDataset):
    """Positive/negative tiles from a folder layout or a ``path,label`` CSV.

    Args:
        data_root: Folder with ``pos/`` and ``neg/`` (folder layout), or the
            folder CSV paths are relative to.
        ann_file: ``path,label`` CSV (relative to ``data_root`` or absolute).
            Empty: use the folder layout.
        check_files: Decode every tile at build time and leave out the
            unreadable ones (reported and counted). Turn off only for
            collections known to be clean and too large to scan.
        **kwargs: Forwarded to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ...).

    Attributes:
        bad_files: ``{path: reason}`` of the tiles left out.
    """

    METAINFO = {'classes': TILE_CLASSES}

    def __init__(self, data_root: str, ann_file: str = '', check_files: bool = True,
                 **kwargs) -> None:
        self.check_files = check_files
        self.bad_files: Dict[str, str] = {}
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the tile list, check every tile, report and drop the bad ones."""
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'{self.ann_file}: tile CSV not found. Give a '
                                        '"path,label" CSV or leave ann_file empty for the '
                                        'pos/ and neg/ folder layout.')
            rows = [(p if osp.isabs(p) else osp.join(self.data_root, p), label)
                    for p, label in _csv_rows(self.ann_file)]
            source = self.ann_file
        else:
            rows = _folder_rows(self.data_root)
            source = self.data_root
        data_list = []
        for path, label_name in rows:
            label = LABEL_NAMES.get(label_name.lower())
            if label is None:
                self.bad_files[path] = (f'unknown label "{label_name}" (use pos/positive/1 or '
                                        'neg/negative/0)')
                continue
            if self.check_files:
                try:
                    read_image(path)
                except ImageReadError as error:
                    self.bad_files[path] = str(error)
                    continue
            data_list.append({'img_path': path, 'gt_label': label})
        for path, reason in self.bad_files.items():
            print_log(f'skipped tile {path}: {reason}', logger='current', level=30)
        if self.bad_files:
            print_log(f'{source}: {len(self.bad_files)} of {len(rows)} tiles skipped '
                      '(unreadable file or unknown label, listed above).',
                      logger='current', level=30)
        if not data_list:
            raise ValueError(f'{source}: no usable tile. Put images under pos/ and neg/ or '
                             'list them in a "path,label" CSV.')
        return data_list

    def class_counts(self) -> Tuple[int, int]:
        """``(negatives, positives)`` among the usable tiles."""
        labels = [int(self.get_data_info(i)['gt_label']) for i in range(len(self))]
        return labels.count(0), labels.count(1)


@TRANSFORMS.register_module()
class LoadTile(BaseTransform):
    """Load a tile as RGB uint8 with :func:`mmcyclic.datasets.io.read_image`.

    Unlike ``LoadImageFromFile`` (cv2, BGR) this reads TIFFs Pillow cannot
    and gives RGB, so the classifier's data preprocessor uses ``to_rgb=False``
    and the relevance methods feed the same channel order.

    Args:
        scale: Resize factor applied after loading (1.0 = native resolution).
            Tiles much smaller than the classifier input can be enlarged, but
            seeds must then be extracted from images enlarged by the same
            factor (``image_scale`` of :func:`mmcyclic.relevance.tiled_relevance`).
    """

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f'scale must be positive, got {scale}')
        self.scale = scale

    def transform(self, results: dict) -> Optional[dict]:
        img = read_image(results['img_path'])
        if self.scale != 1.0:
            import mmcv
            img = mmcv.imrescale(img, self.scale, interpolation='bilinear')
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale={self.scale})'
