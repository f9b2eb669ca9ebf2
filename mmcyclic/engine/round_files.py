"""The files each self-training phase trains on and predicts on.

A phase's label sets are whole-image COCO files in ``<out_dir>/<phase>/``: M
(``M.json``), M' (``M_prime.json``, students only) and M ∪ M' (``union.json``,
the next phase's M); ``train_patches.json`` cuts them into the training
patches. Those patches are chosen once, from the patch file as written
(``indices``), into ``<out_dir>/training_patches.json``: every phase trains on
them (those holding a label of the phase) and M' is predicted on exactly them.

Rank 0 writes, atomically; every rank waits. Each file is written once per
run of the loop: the Runner's first dataloader access writes the teacher's,
and the teacher phase then trains on them.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from mmengine.dist import barrier, broadcast_object_list, get_rank

from mmcyclic.datasets.label_sets import (LabelSet, LabelSetError, load_label_set, mask_area,
                                          patch_training_coco, select_patches, union_label_sets)
from mmcyclic.utils.atomic import atomic_write_json

from .loop_state import read_json

SET_NAMES = ('M', 'M_prime')


class SeedFileError(LabelSetError):
    """A seed file is valid but cannot train the teacher; the message says why."""


class RoundFiles:
    """M, M', M ∪ M' and the patch-level training file of every phase, written once.

    Construction reads (and checks) the seed file and the patch file, so that a
    bad one fails before any work; it writes nothing.

    Args:
        dataloader (dict): The training dataloader config; its dataset's
            ``ann_file`` (under ``data_root``) is the patch file and its
            ``indices`` choose the training patches (see the module docstring).
        seed_file (str): Whole-image COCO seed set M of the teacher.
        out_dir (str): The self-training folder (absolute).
        union_iou_thr (float): A prediction overlapping an M mask at IoU >= this
            is not added to M (see :func:`union_label_sets`).

    Raises:
        SeedFileError: The seed file holds no seed, or none on a training image
            with a non-empty mask (the message counts what matched).
        ValueError: ``indices`` are out of range.
    """

    def __init__(self, dataloader: Dict[str, Any], seed_file: str, out_dir: str,
                 union_iou_thr: float) -> None:
        self.dataloader_cfg = copy.deepcopy(dataloader)
        # `indices` is resolved once against the patch file, not by each dataset after its own
        # filtering, which differs between phases and prediction.
        indices = self.dataloader_cfg['dataset'].pop('indices', None)
        self.seed_file = seed_file
        self.out_dir = out_dir
        self.union_iou_thr = union_iou_thr
        self.training_patches_file = osp.join(out_dir, 'training_patches.json')
        dataset = self.dataloader_cfg['dataset']
        self._patches = select_patches(
            read_json(osp.join(dataset.get('data_root', ''), dataset['ann_file'])), indices)
        _check_seeds(seed_file, self._patches)
        self._patches_written = False
        self._written: Dict[str, Tuple[str, Dict[str, int]]] = {}

    def phase_dir(self, phase: str) -> str:
        """The folder of ``phase`` (``'teacher'``, ``'student_1'``, ...)."""
        return osp.join(self.out_dir, phase)

    def label_sets(self, previous: Optional[str]) -> Tuple[LabelSet, Optional[LabelSet]]:
        """M and M' of the phase after ``previous`` (None: the teacher, which has no M').

        M_j is the union phase j-1 trained on; M'_j is what its model predicted.
        """
        if previous is None:
            return load_label_set(self.seed_file), None
        return (load_label_set(osp.join(self.phase_dir(previous), 'union.json')),
                load_label_set(osp.join(self.phase_dir(previous), 'predictions.json'),
                               default_source='prediction'))

    def write_training_patches(self) -> None:
        """Rank 0 writes ``training_patches.json`` (the patches M' is predicted on), once."""
        if not self._patches_written:
            if get_rank() == 0:
                atomic_write_json(self.training_patches_file, self._patches)
            barrier()
            self._patches_written = True

    def write(self, phase: str, round_index: int, m_set: LabelSet,
              m_prime: Optional[LabelSet]) -> Tuple[str, Dict[str, int]]:
        """Write M, M', M ∪ M' of ``phase`` and its patch-level training file, once.

        Args:
            phase (str): The phase's name (its folder).
            round_index (int): 0 for the teacher, j for student j (in the files' ``info``).
            m_set (LabelSet): M.
            m_prime (LabelSet, optional): M' (None for the teacher).

        Returns:
            Tuple[str, Dict[str, int]]: the training file and the union's counts
            (``union_kept``, ``union_dropped_as_duplicate``; empty for the teacher).
            A second call for the same phase writes nothing and returns the first's.
        """
        if phase not in self._written:
            self.write_training_patches()
            self._written[phase] = self._write_round(self.phase_dir(phase), round_index, m_set,
                                                     m_prime)
        return self._written[phase]

    def _write_round(self, phase_dir: str, round_index: int, m_set: LabelSet,
                     m_prime: Optional[LabelSet]) -> Tuple[str, Dict[str, int]]:
        train_file = osp.join(phase_dir, 'train_patches.json')
        counts: List[Dict[str, int]] = [{}]
        if get_rank() == 0:
            m_set.info.update(round=round_index, label_set='M')
            m_set.save(osp.join(phase_dir, 'M.json'))
            sets, union = [m_set], m_set
            if m_prime is not None:
                m_prime.info.update(round=round_index, label_set='M_prime')
                m_prime.save(osp.join(phase_dir, 'M_prime.json'))
                sets.append(m_prime)
                union, union_counts = union_label_sets(m_set, m_prime, self.union_iou_thr)
                counts[0] = {f'union_{k}': v for k, v in union_counts.items()}
            union.info.update(round=round_index, label_set='union')
            union.save(osp.join(phase_dir, 'union.json'))
            atomic_write_json(train_file, patch_training_coco(self._patches, sets,
                                                              SET_NAMES[:len(sets)]))
        broadcast_object_list(counts)
        barrier()
        return train_file, counts[0]

    def train_dataloader(self, runner, train_file: str):
        """The training dataloader over ``train_file`` (its categories are the label sets).

        Args:
            runner (Runner): Builds it, with the runner's seed.
            train_file (str): A phase's ``train_patches.json``.
        """
        cfg = copy.deepcopy(self.dataloader_cfg)
        cfg['dataset']['ann_file'] = train_file
        cfg['dataset']['metainfo'] = dict(classes=SET_NAMES)
        return runner.build_dataloader(cfg, seed=runner.seed)

    def predict_dataloader_cfg(self, val_dataloader: Dict[str, Any]) -> Dict[str, Any]:
        """``val_dataloader`` over ``training_patches.json`` (M' covers the training patches).

        Args:
            val_dataloader (dict): The runner's validation dataloader config (its pipeline).
        """
        cfg = copy.deepcopy(val_dataloader)
        cfg['dataset']['ann_file'] = self.training_patches_file
        cfg['dataset']['data_root'] = self.dataloader_cfg['dataset'].get('data_root', '')
        cfg['dataset'].pop('indices', None)
        return cfg


def _check_seeds(seed_file: str, patches: Dict[str, Any]) -> None:
    """An error naming ``seed_file`` if none of its seeds can train the teacher.

    A seed trains only if its image is one of the training images (matched by
    ``source_id``, the image's id in the dataset) and its mask is not empty.
    """
    seeds = load_label_set(seed_file)
    if not seeds.annotations:
        raise SeedFileError(
            f'{seed_file}: the seed set holds no seed on any of its {len(seeds.images)} '
            'images, so the teacher has nothing to learn from. For front-end seeds: no '
            'relevance above the threshold passed the area filters; lower the recipe\'s '
            'threshold or min_area, raise max_area, or train the classifier longer, and look '
            'at the overlays (seeds keep_relevance=True, tools/extract_seeds.py --report-dir).')
    training = {str(p['source_id']) for p in patches['images'] if 'source_id' in p}
    source_of = {img['id']: str(img.get('source_id', img['id'])) for img in seeds.images}
    matched = {i for i, source in source_of.items() if source in training}
    on_training = [ann for ann in seeds.annotations if ann['image_id'] in matched]
    usable = sum(1 for ann in on_training if mask_area(ann) > 0)
    if usable:
        return
    unmatched = sorted(set(source_of.values()) - training)
    raise SeedFileError(
        f'{seed_file}: none of its {len(seeds.annotations)} seeds can train the teacher: '
        f'{len(matched)} of its {len(seeds.images)} images match a training image by '
        f'source_id (unmatched, e.g. {unmatched[:3]}; the {len(training)} training images '
        f'are e.g. {sorted(training)[:3]}), and {usable} of the {len(on_training)} seeds on '
        'them have a non-empty mask. Make the seeds from the whole-image file of the same '
        'training split (annotations/instances_train_full.json of the data_root the '
        'detector trains on) with tools/extract_seeds.py or tools/make_gt_seeds.py.')
