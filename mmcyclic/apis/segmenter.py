"""Segment nuclei in images of any size with a trained mmdet detector.

:class:`NucleiSegmenter` builds the detector from a config (and checkpoint)
and runs tiled inference (:mod:`mmcyclic.apis.tiled_inference`) on arrays or files;
:func:`segment_files` runs it over many files and writes the exports.

Settings come, in this order of precedence, from the constructor's
arguments, the config's optional block::

    inference = dict(tile_size=256, overlap=64, batch_size=4, score_thr=0.5,
                     caps_tile_size=256, mpp=0.25, min_area=1, max_pixels=100_000_000)

and :data:`DEFAULT_SETTINGS`; without ``inference.score_thr``, the score
threshold is the config's ``test_evaluator.score_thr`` (the one that selected
and tested the model: 0.05 for the weak-supervision configs) when it has one.

Two things keep the tile size from changing what is found: the model's
per-image caps (RPN proposals, detections) are scaled with the tile area
(:func:`scale_test_caps`), and Mask R-CNN-style models paste each mask into
its box only (:meth:`NucleiSegmenter.predict_tiles`), never at full tile size.
"""
import copy
import glob
import math
import os
import pickle
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmcyclic.datasets.io import IMAGE_SUFFIXES, ImageReadError
from mmcyclic.utils.checkpoint_compat import CheckpointRefused
from mmcyclic.utils.config import evaluator_score_thr, load_config
from mmcyclic.utils.progress import Progress, progress_write

from .image_sources import open_image_source
from .result import FORMATS, NucleiResult
from .tiled_inference import Tile, TileCallback, TileInstances, segment_tiled

PathLike = Union[str, os.PathLike]
DEFAULT_SETTINGS = dict(tile_size=256, overlap=64, batch_size=4, score_thr=0.5,
                        caps_tile_size=256, mpp=None, min_area=1, max_pixels=100_000_000)


@dataclass(frozen=True)
class InferenceSettings:
    """How an image is tiled and which instances are kept.

    Attributes:
        tile_size: Tile side in pixels; an image no larger is segmented in one pass.
        overlap: Smallest overlap of neighbouring tiles; at least the largest
            nucleus diameter so every nucleus is whole in some tile.
        batch_size: Tiles per forward pass.
        score_thr: Instances scoring below this are discarded.
        caps_tile_size: Tile side that the config's ``test_cfg`` caps (RPN
            proposals, detections per image) are meant for, usually the training
            patch size; larger tiles get the caps scaled by their area.
        mpp: Microns per pixel of the images the model was trained on (whole
            slides are read at this scale, :mod:`mmcyclic.wsi`); ``None``: unknown.
        min_area: Instances of fewer pixels are dropped (and counted); the
            dataset configs set it from their nuclei's sizes.
        max_pixels: Images whose header declares more pixels are refused before
            anything is read or allocated (whole slides: tools/infer_wsi.py).
    """

    tile_size: int
    overlap: int
    batch_size: int
    score_thr: float
    caps_tile_size: int = 256
    mpp: Optional[float] = None
    min_area: int = 1
    max_pixels: int = 100_000_000

    def __post_init__(self) -> None:
        if self.tile_size < 1:
            raise ValueError(f'tile_size must be positive, got {self.tile_size}')
        if not 0 <= self.overlap < self.tile_size:
            raise ValueError(
                f'overlap must be in [0, tile_size={self.tile_size}), got {self.overlap}')
        if self.batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {self.batch_size}')
        if not 0.0 <= self.score_thr <= 1.0:
            raise ValueError(f'score_thr must be in [0, 1], got {self.score_thr}')
        if self.caps_tile_size < 1:
            raise ValueError(f'caps_tile_size must be positive, got {self.caps_tile_size}')
        if self.mpp is not None and not self.mpp > 0:
            raise ValueError(f'mpp must be positive (microns per pixel), got {self.mpp}')
        if self.min_area < 1:
            raise ValueError(f'min_area must be >= 1, got {self.min_area}')
        if self.max_pixels < 1:
            raise ValueError(f'max_pixels must be positive, got {self.max_pixels}')

    @classmethod
    def resolve(cls, cfg: Config, source: str = 'config', **overrides) -> 'InferenceSettings':
        """Arguments (not None) > ``cfg.inference`` > the test evaluator > :data:`DEFAULT_SETTINGS`.

        The test evaluator only supplies ``score_thr`` (:func:`evaluator_score_thr`).

        Raises:
            ValueError: ``cfg.inference`` has an unknown key, or a value is out of range.
        """
        block = dict(cfg.get('inference', None) or {})
        unknown = sorted(set(block) - set(DEFAULT_SETTINGS))
        if unknown:
            raise ValueError(f'{source}: unknown key(s) {unknown} in `inference`; '
                             f'allowed: {sorted(DEFAULT_SETTINGS)}')
        tested = evaluator_score_thr(cfg)
        values = {**DEFAULT_SETTINGS, **({} if tested is None else {'score_thr': tested}), **block,
                  **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values)


def _drop_low_scores_early(cfg: Config, score_thr: float) -> Optional[float]:
    """Raise the detector's own box score threshold to ``score_thr``; return the old one.

    Mask R-CNN configs keep boxes down to ``test_cfg.rcnn.score_thr`` (0.05)
    and compute and paste a full-tile mask for each of up to ``max_per_img``
    of them, which are then discarded below ``score_thr`` anyway. Filtering
    before NMS and the mask head gives the same instances above ``score_thr``
    (a box is only suppressed by higher-scoring ones, and the top
    ``max_per_img`` above the threshold are the same) at a fraction of the
    time and memory. (Mask R-CNN-style models on CPU keep the old threshold for
    their boxes, to know the highest score, and drop the low boxes before their
    masks: :meth:`NucleiSegmenter._predict_into_boxes`.)
    """
    rcnn = (cfg.model.get('test_cfg') or {}).get('rcnn')
    if rcnn is None or 'score_thr' not in rcnn:
        return None
    original = rcnn['score_thr']
    rcnn['score_thr'] = max(original, score_thr)
    return original


def scale_test_caps(cfg: Config, factor: float) -> None:
    """Multiply the detector's per-image caps by ``factor`` (>= 1) in place.

    A Mask R-CNN config caps each image at ``rpn.nms_pre`` boxes per level,
    ``rpn.max_per_img`` proposals and ``rcnn.max_per_img`` detections, sized
    for its training patches; a tile holding ``factor`` times the area holds
    about ``factor`` times the nuclei and needs as many proposals.
    """
    test_cfg = cfg.model.get('test_cfg') or {}
    for stage, key in (('rpn', 'nms_pre'), ('rpn', 'max_per_img'), ('rcnn', 'max_per_img')):
        block = test_cfg.get(stage) or {}
        if key in block and factor > 1:
            block[key] = int(math.ceil(block[key] * factor))


def _paste_into_boxes(roi_head, dets, mask_preds, meta: dict,
                      score_thr: float) -> TileInstances:
    """Mask R-CNN masks of one tile, each pasted into its box only.

    Same values as mmdet's ``FCNMaskHead.predict_by_feat`` (which on CPU
    pastes mask by mask with ``skip_empty=True``), without its ``N x H x W``
    full-tile array.
    """
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    keep = dets.scores >= score_thr
    labels, scores, preds = dets.labels[keep], dets.scores[keep], mask_preds[keep]
    if not roi_head.mask_head.class_agnostic:
        preds = preds[torch.arange(len(preds)), labels]
    else:
        preds = preds[:, 0]
    probs = preds.sigmoid()[:, None]
    scale = dets.bboxes.new_tensor(meta['scale_factor']).repeat((1, 2))
    boxes = dets.bboxes[keep] / scale
    height, width = meta['ori_shape'][:2]
    threshold = roi_head.test_cfg.mask_thr_binary
    crops, origins = [], []
    for index in range(len(probs)):
        crop, (rows, cols) = _do_paste_mask(probs[index:index + 1], boxes[index:index + 1],
                                            height, width, skip_empty=True)
        crops.append((crop[0] >= threshold).numpy())
        origins.append((rows.start, cols.start))
    return TileInstances(crops, np.array(origins, dtype=np.int64).reshape(-1, 2),
                         scores.numpy().astype(np.float64))


def _read_checkpoint(checkpoint: Path) -> dict:
    """Read a checkpoint file; raise ``ValueError`` naming the file, the cause and the fix."""
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        return CheckpointLoader.load_checkpoint(str(checkpoint), map_location='cpu',
                                                logger='silent')
    except CheckpointRefused as error:  # unsafe or NaN weights: names the file and the fix
        raise ValueError(str(error)) from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError) as error:
        detail = ' '.join(str(error).split())[:300]
        raise ValueError(
            f'{checkpoint}: cannot read this checkpoint file ({type(error).__name__}: {detail}). '
            f'It is truncated or damaged ({checkpoint.stat().st_size} bytes), e.g. by an '
            'interrupted copy, download or save: copy it again, or pass another .pth file.'
        ) from None


def _load_weights_strictly(model: torch.nn.Module, checkpoint: Path, source: str) -> None:
    """Load every weight of ``model`` from ``checkpoint`` or say why not.

    mmdet's ``init_detector`` loads non-strictly and only logs missing or
    reshaped weights, after which the model predicts from random weights; for
    inference that must be an error. A file that cannot be read (truncated,
    refused as unsafe) is reported as such, not as weights that do not fit.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    loaded = _read_checkpoint(checkpoint)
    try:
        # What mmengine's load_checkpoint does after reading the file.
        _load_checkpoint_to_model(model, loaded, strict=True, logger='silent')
    except (RuntimeError, KeyError, TypeError) as error:
        detail = ' '.join(str(error).split())
        raise ValueError(
            f'{checkpoint}: its weights do not fit the model of {source} ({detail[:600]}). '
            'Use the config the checkpoint was trained with.') from None
    meta = loaded.get('meta', {}) if isinstance(loaded, dict) else {}
    if 'dataset_meta' in (meta or {}):
        model.dataset_meta = meta['dataset_meta']


def _init_detector_quietly(init_detector: Callable, cfg: Config, device: str) -> torch.nn.Module:
    """mmdet's ``init_detector`` without its "checkpoint is None" warning.

    The warning says the model gets COCO class names, but the checkpoint (and
    its class names) is loaded right after. mmdet turns on
    ``warnings.simplefilter('once')`` before warning, which would beat an
    ``ignore`` filter, so warnings are recorded and all others re-issued.
    """
    with warnings.catch_warnings(record=True) as caught:
        model = init_detector(cfg, None, device=device)
    for warning in caught:
        if 'checkpoint is None' not in str(warning.message):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return model


class NucleiSegmenter:
    """A trained nuclei detector that segments whole images tile by tile.

    Args:
        config: Config file or :class:`mmengine.Config` of the model (its test
            pipeline prepares the tiles).
        checkpoint: Weights; ``None`` leaves the model randomly initialised.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        tile_size: See :class:`InferenceSettings`; ``None`` = config/default.
        overlap: See :class:`InferenceSettings`.
        batch_size: See :class:`InferenceSettings`.
        score_thr: See :class:`InferenceSettings`; by default the config's
            ``inference.score_thr``, else its ``test_evaluator.score_thr``, else 0.5.
        caps_tile_size: See :class:`InferenceSettings`.
        min_area: See :class:`InferenceSettings`.
        max_pixels: See :class:`InferenceSettings`.

    Attributes:
        settings: The resolved :class:`InferenceSettings`.
        highest_score: The highest score of any detection the model returned
            since the segmenter was made or :meth:`reset_highest_score`, kept or
            not (``None``: none). Mask R-CNN-style models on CPU report scores
            down to the config's own ``test_cfg.rcnn.score_thr``; other models
            only those at or above ``settings.score_thr``.

    Raises:
        mmcyclic.utils.config.ConfigError: the config is missing or broken.
        FileNotFoundError: the checkpoint does not exist.
        ValueError: a setting is out of range, the model predicts no masks, or
            a CUDA device is asked for but none is available.

    Example:
        >>> segmenter = NucleiSegmenter('configs/mask_rcnn_r18_synthetic.py', 'epoch_12.pth')
        >>> result = segmenter.segment('slide_region.tif')
        >>> result.save('out', 'slide_region', formats=['geojson', 'labels'])
    """

    def __init__(self, config: Union[PathLike, Config], checkpoint: Optional[PathLike] = None,
                 device: str = 'cpu', tile_size: Optional[int] = None,
                 overlap: Optional[int] = None, batch_size: Optional[int] = None,
                 score_thr: Optional[float] = None,
                 caps_tile_size: Optional[int] = None, min_area: Optional[int] = None,
                 max_pixels: Optional[int] = None) -> None:
        from mmdet.apis import init_detector
        from mmdet.utils import get_test_pipeline_cfg

        source = str(config) if not isinstance(config, Config) else (config.filename or 'config')
        cfg = load_config(str(config)) if not isinstance(config, Config) else copy.deepcopy(config)
        self.settings = InferenceSettings.resolve(cfg, source, tile_size=tile_size,
                                                  overlap=overlap, batch_size=batch_size,
                                                  score_thr=score_thr,
                                                  caps_tile_size=caps_tile_size,
                                                  min_area=min_area, max_pixels=max_pixels)
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise FileNotFoundError(f'{checkpoint}: checkpoint not found. Train one with '
                                    'tools/train.py or pass the path of an existing .pth file.')
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError(f'device {device!r}: no CUDA GPU is available here; use device="cpu"')
        self._box_score_thr = _drop_low_scores_early(cfg, self.settings.score_thr)
        self.highest_score: Optional[float] = None
        scale_test_caps(cfg, (self.settings.tile_size / self.settings.caps_tile_size)**2)
        init_default_scope('mmdet')
        self.model = _init_detector_quietly(init_detector, cfg, device)
        if checkpoint is not None:
            _load_weights_strictly(self.model, Path(checkpoint), source)
        if not getattr(self.model, 'with_mask', False):
            raise ValueError(f'{source}: this model predicts boxes only; nuclei segmentation '
                             'needs instance masks (a Mask R-CNN-style config)')
        pipeline = get_test_pipeline_cfg(cfg).copy()
        # Tiles are arrays, not files: the pipeline's loader is swapped as in
        # mmdet's inference_detector.
        pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
        self._pipeline = Compose(pipeline)

    def predict_tiles(self, tiles: Sequence[Tile]) -> List[TileInstances]:
        """Run the detector on a batch of tiles.

        Args:
            tiles: RGB tiles (all the same size, as :func:`tile_windows` makes them).

        Returns:
            Per tile, the instances scoring at least ``settings.score_thr``
            (dropped early to keep memory low), masks cropped to their boxes in
            tile coordinates. Mask R-CNN-style models (a ``StandardRoIHead``
            with an ``FCNMaskHead``) paste each mask into its box only; other
            models go through ``test_step`` and have their full-tile masks cropped.
        """
        # mmdet pipelines load images with OpenCV (BGR); the data preprocessor's
        # bgr_to_rgb then gives the RGB the model was trained on.
        packed = [self._pipeline(dict(img=np.ascontiguousarray(tile.image[..., ::-1]), img_id=i))
                  for i, tile in enumerate(tiles)]
        batch = dict(inputs=[p['inputs'] for p in packed],
                     data_samples=[p['data_samples'] for p in packed])
        with torch.no_grad():
            if self._pastes_into_boxes:
                return self._predict_into_boxes(batch)
            samples = self.model.test_step(batch)
        outputs = []
        for sample in samples:
            instances = sample.pred_instances
            self._record_scores(instances.scores)
            keep = instances.scores >= self.settings.score_thr
            outputs.append(TileInstances.from_masks(
                instances.masks[keep].cpu().numpy().astype(bool, copy=False),
                instances.scores[keep].cpu().numpy()))
        return outputs

    @property
    def _pastes_into_boxes(self) -> bool:
        from mmdet.models.roi_heads import StandardRoIHead
        from mmdet.models.roi_heads.mask_heads import FCNMaskHead
        roi_head = getattr(self.model, 'roi_head', None)
        return (isinstance(roi_head, StandardRoIHead)
                and isinstance(getattr(roi_head, 'mask_head', None), FCNMaskHead)
                and getattr(self.model, 'with_rpn', False)
                # On GPUs mmdet pastes many masks per kernel, which box by box would undo.
                and next(self.model.parameters()).device.type == 'cpu')

    def _predict_into_boxes(self, batch: dict) -> List[TileInstances]:
        """``TwoStageDetector.predict`` up to the masks, which go into their boxes."""
        from mmdet.structures.bbox import bbox2roi
        model = self.model
        data = model.data_preprocessor(batch, False)
        samples = data['data_samples']
        metas = [sample.metainfo for sample in samples]
        feats = model.extract_feat(data['inputs'])
        proposals = model.rpn_head.predict(feats, samples, rescale=False)
        roi_head = model.roi_head
        rcnn_cfg = roi_head.test_cfg
        if self._box_score_thr is not None:  # see every box the config keeps, for highest_score
            rcnn_cfg = copy.deepcopy(rcnn_cfg)
            rcnn_cfg.score_thr = self._box_score_thr
        dets = roi_head.predict_bbox(feats, metas, proposals, rcnn_test_cfg=rcnn_cfg,
                                     rescale=False)
        for det in dets:
            self._record_scores(det.scores)
        # Dropping boxes after NMS keeps the same ones as dropping them before
        # (a box is only suppressed by higher-scoring ones): no mask for the rest.
        dets = [det[det.scores >= self.settings.score_thr] for det in dets]
        counts = [len(d) for d in dets]
        if sum(counts) == 0:
            return [TileInstances.empty() for _ in dets]
        mask_preds = roi_head._mask_forward(feats, bbox2roi([d.bboxes for d in dets]))
        return [_paste_into_boxes(roi_head, det, preds, meta, self.settings.score_thr)
                for det, preds, meta in zip(dets, mask_preds['mask_preds'].split(counts), metas)]

    def _record_scores(self, scores: torch.Tensor) -> None:
        if len(scores):
            top = float(scores.max())
            self.highest_score = top if self.highest_score is None else max(
                self.highest_score, top)

    def reset_highest_score(self) -> None:
        """Forget :attr:`highest_score` (e.g. before a new run over many images)."""
        self.highest_score = None

    def segment(self, image: Union[np.ndarray, PathLike],
                on_tile: Optional[TileCallback] = None) -> NucleiResult:
        """Segment the nuclei of one image.

        Args:
            image: RGB ``H x W x 3`` uint8 array (grey and RGBA are converted), or
                the path of a PNG/JPEG/TIFF/... of any size. Big TIFFs are read
                tile by tile where the file allows (:mod:`mmcyclic.apis.tiled_inference`).
            on_tile: Called as ``on_tile(done, total)`` after each batch of tiles.

        Returns:
            The label map, polygons, scores, areas and centroids (instances below
            ``settings.min_area`` dropped and counted).

        Raises:
            mmcyclic.datasets.io.ImageReadError: the image cannot be read, or its
                declared size exceeds ``settings.max_pixels``
                (:class:`~mmcyclic.datasets.io.ImageTooLargeError`).
        """
        with open_image_source(image, max_pixels=self.settings.max_pixels) as source:
            labels, scores = segment_tiled(source, self.predict_tiles, self.settings.tile_size,
                                           self.settings.overlap, self.settings.batch_size,
                                           self.settings.score_thr, on_tile=on_tile)
        return NucleiResult.from_label_map(labels, scores, min_area=self.settings.min_area)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({asdict(self.settings)})'


def collect_inputs(patterns: Iterable[str], suffixes: Sequence[str] = IMAGE_SUFFIXES,
                   kind: str = 'image') -> Tuple[List[Path], List[Tuple[str, str]]]:
    """Expand files, folders (their files with ``suffixes``, not recursive) and globs.

    Args:
        patterns: Files, folders and globs.
        suffixes: File suffixes taken from folders (lower case).
        kind: What the files are, for messages (``'image'``, ``'slide'``).

    Returns:
        ``(paths, problems)``: the image paths in order, without duplicates, and
        ``(input, reason)`` for each input that matched nothing and each broken
        symbolic link (dangling, or a loop) among the matches.
    """
    paths: List[Path] = []
    seen = set()
    problems: List[Tuple[str, str]] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            entries = [p for p in path.iterdir() if p.suffix.lower() in suffixes]
            reason = f'no {kind} files ({", ".join(suffixes)}) in this folder'
        elif path.exists():
            entries, reason = [path], ''
        elif glob.has_magic(pattern):
            entries = [Path(p) for p in glob.glob(pattern, recursive=True)]
            reason = 'the pattern matches no file'
        else:
            entries, reason = [], 'no such file or folder'
        found = sorted(p for p in entries if p.is_file())
        # A link whose target is missing or that loops is an input that cannot be read.
        problems.extend((str(p), 'broken symbolic link (its target is missing, or the link '
                         'points back at itself)') for p in sorted(entries)
                        if p.is_symlink() and not p.exists())
        if not found:
            problems.append((pattern, reason))
        for found_path in found:
            if found_path.resolve() not in seen:
                seen.add(found_path.resolve())
                paths.append(found_path)
    return paths, problems


class OutputDirError(OSError):
    """The output folder cannot be created or written; the message names it and the fix."""


def check_output_dir(out_dir: PathLike) -> Path:
    """Create ``out_dir`` if needed and check that a file can be written in it.

    Args:
        out_dir: The output folder.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        OutputDirError: it is a file, cannot be created or is not writable.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as error:
        cause = error.strerror or str(error)
        raise OutputDirError(f'{out_dir}: cannot write the outputs there ({cause}). Choose '
                             'another output folder (--out) or make this one writable.') from None
    return out_dir


def _warn_if_nothing_found(segmenter: NucleiSegmenter, num_images: int) -> None:
    """Say which threshold found nothing in any image and the highest score seen."""
    threshold = segmenter.settings.score_thr
    highest = segmenter.highest_score
    seen = (f'the highest score seen was {highest:.4f}' if highest is not None
            else 'the model returned no detection at all')
    message = (f'no nucleus found in any of the {num_images} image(s) at score_thr={threshold} '
               f'({seen}). If the model was trained and tested with a lower threshold, pass it '
               '(--score-thr, or score_thr= / inference.score_thr in the config).')
    warnings.warn(message, stacklevel=3)


def segment_files(segmenter: NucleiSegmenter, inputs: Iterable[str], out_dir: PathLike,
                  formats: Sequence[str] = ('geojson', 'labels'), label_suffix: str = '.tif',
                  progress: bool = True,
                  log: Optional[Callable[[str], None]] = None) -> List[Tuple[str, str]]:
    """Segment every input image and write the exports into ``out_dir``.

    The output folder is checked first (:func:`check_output_dir`). A file that
    cannot be read (missing, truncated, not an image) or fails during
    inference is reported through ``log`` and skipped; the others are still
    processed. Every output file is written atomically, so an interrupted run
    leaves complete files only (an image may miss some of its formats). A run
    that finds no nucleus in any image warns (``UserWarning``) with the score
    threshold and the highest score the model gave.

    Args:
        segmenter: The model.
        inputs: Files, folders and globs (see :func:`collect_inputs`).
        out_dir: Output folder.
        formats: Subset of ``geojson``, ``labels``, ``coco``, ``overlay``.
        label_suffix: ``.tif``, ``.png`` or ``.npy`` (see :meth:`NucleiResult.save`).
        progress: Show a bar per image and per tile.
        log: Receives one message per finished or failed input; default: printed
            above the progress bars.

    Returns:
        ``(input, reason)`` per failed input.

    Raises:
        ValueError: an unknown format.
        OutputDirError: ``out_dir`` cannot be written (before any inference).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f'unknown output format(s) {unknown}; choose from {list(FORMATS)}')
    out_dir = check_output_dir(out_dir)
    log = log or progress_write
    paths, failures = collect_inputs(inputs)
    segmenter.reset_highest_score()
    found = []
    for name, reason in failures:
        log(f'FAILED {name}: {reason}')
    stems = {}
    image_bar = Progress(len(paths), progress, desc='images', unit='image')
    for path in paths:
        previous = stems.setdefault(path.stem, path)
        if previous != path:
            failures.append((str(path), f'output names collide with {previous}'))
            log(f'FAILED {path}: outputs would overwrite those of {previous}; '
                'run it with another --out')
        else:
            found.append(_segment_one(segmenter, path, out_dir, formats, label_suffix, progress,
                                      log, failures))
        image_bar.update()
    image_bar.close()
    segmented = [n for n in found if n is not None]
    if segmented and not any(segmented):
        _warn_if_nothing_found(segmenter, len(segmented))
    return failures


def _segment_one(segmenter: NucleiSegmenter, path: Path, out_dir: Path, formats: Sequence[str],
                 label_suffix: str, progress: bool, log: Callable[[str], None],
                 failures: List[Tuple[str, str]]) -> Optional[int]:
    """Segment one file and save its exports; return the nuclei found (``None``: it failed)."""
    tile_bar = None

    def on_tile(done: int, total: int) -> None:
        nonlocal tile_bar
        if tile_bar is None:
            tile_bar = Progress(total, desc=path.name, unit='tile', position=1, leave=False)
        tile_bar.update(done - tile_bar.done)

    try:
        result = segmenter.segment(path, on_tile=on_tile if progress else None)
        image = None
        if 'overlay' in formats:
            with open_image_source(path) as source:
                image = np.ascontiguousarray(source.read((0, 0, *source.shape)))
        written = result.save(out_dir, path.stem, formats, image=image,
                              label_suffix=label_suffix, file_name=path.name)
    except ImageReadError as error:
        # The message already starts with the file name.
        reason = str(error).removeprefix(f'{path}: ')
        failures.append((str(path), reason))
        log(f'FAILED {path}: {reason}')
        return None
    except (RuntimeError, ValueError, OSError, MemoryError) as error:
        failures.append((str(path), f'{type(error).__name__}: {error}'))
        log(f'FAILED {path}: {type(error).__name__}: {error}')
        return None
    finally:
        if tile_bar is not None:
            tile_bar.close()
    small = (f' ({result.dropped_below_min_area} smaller than min_area='
             f'{segmenter.settings.min_area} px left out)' if result.dropped_below_min_area else '')
    log(f'{path}: {len(result)} nuclei{small} -> {", ".join(p.name for p in written)}')
    return len(result)
