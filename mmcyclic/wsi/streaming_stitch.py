"""The tile stitch rule, streamed: nuclei are finalised behind a moving frontier.

:func:`~mmcyclic.evaluation.stitching.stitch_predictions_with_scores` places
all of an image's tile predictions in one global order on one label map. A
prediction reads and writes only the pixels of its own mask, so predictions
interact only through chains of masks that share a pixel: the *components*
of the graph "masks overlap". Stitching each component on the canvas of its
own box, in the same order, gives exactly the global result (the same pixels
and scores for every nucleus), without an image-sized label map.

Tiles arrive in bands (rows of the tile grid, top to bottom). A prediction
from a later band lies at or below that band's first row, so once the
frontier (the first row of the next band) has passed below a component's
last row, nothing can join it: :meth:`StreamingStitcher.finalise` stitches
and emits it, and keeps only the predictions of components still open.
Memory is therefore bounded by the predictions of about one band of tiles
(plus, in pathological cases, a chain of overlapping masks that keeps
crossing the frontier).
"""
import io
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import shapely
from scipy import ndimage

from mmcyclic.evaluation.stitching import (TilePrediction, Window, _intersect, _is_empty, _mask_in,
                                           stitch_predictions_with_scores)


@dataclass
class StitchedNucleus:
    """One finished nucleus.

    Attributes:
        mask: Boolean mask cropped to its box.
        y0: Row of ``mask[0, 0]`` in the image.
        x0: Column of ``mask[0, 0]`` in the image.
        score: Its score (that of its first, highest-placed part).
    """

    mask: np.ndarray
    y0: int
    x0: int
    score: float


def _components(predictions: Sequence[TilePrediction]) -> List[List[int]]:
    """Indices of the predictions grouped by connected masks, each group ascending."""
    count = len(predictions)
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if count > 1:
        windows = np.array([p.window for p in predictions], dtype=np.float64)
        boxes = shapely.box(windows[:, 1], windows[:, 0], windows[:, 3], windows[:, 2])
        left, right = shapely.STRtree(boxes).query(boxes, predicate='intersects')
        for a, b in zip(left.tolist(), right.tolist()):
            if a >= b:
                continue
            shared = _intersect(predictions[a].window, predictions[b].window)
            if _is_empty(shared) or root(a) == root(b):
                continue
            if np.any(_mask_in(predictions[a], shared) & _mask_in(predictions[b], shared)):
                parent[root(a)] = root(b)
    groups: dict = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


class StreamingStitcher:
    """Stitch tile predictions band by band (module docstring).

    Args:
        image_shape: ``(H, W)`` of the image the tiles cut (decides which tile
            edges are inner edges, rule 1 of the stitch).
        merge_iou: As :func:`~mmcyclic.evaluation.stitching.stitch_predictions_with_scores`.
        min_visible: As there.

    Attributes:
        pending: The predictions of components still open, in arrival order.
    """

    def __init__(self, image_shape: Tuple[int, int], merge_iou: float = 0.5,
                 min_visible: float = 0.5) -> None:
        self.image_shape = tuple(image_shape)
        self.merge_iou = merge_iou
        self.min_visible = min_visible
        self.pending: List[TilePrediction] = []
        self._frontier = 0

    def add(self, predictions: Sequence[TilePrediction]) -> None:
        """Queue the predictions of one or more tiles, in tile order.

        Raises:
            ValueError: a prediction lies above the last frontier (its band came too late).
        """
        late = [p for p in predictions if p.y0 < self._frontier]
        if late:
            raise ValueError(f'a prediction at row {late[0].y0} arrived after the frontier passed '
                             f'row {self._frontier}: tiles must come band by band, top to bottom')
        self.pending.extend(predictions)

    def finalise(self, frontier: Optional[int]) -> List[StitchedNucleus]:
        """Stitch every component that ends above row ``frontier`` (``None``: all).

        Returns:
            The finished nuclei, ordered by box top, left, then descending score.
        """
        pending = self.pending
        done, still_open = [], []
        for group in _components(pending):
            bottom = max(pending[i].window[2] for i in group)
            (done if frontier is None or bottom <= frontier else still_open).append(group)
        nuclei: List[StitchedNucleus] = []
        for group in done:
            nuclei += self._stitch([pending[i] for i in group])
        self.pending = [pending[i] for i in sorted(i for g in still_open for i in g)]
        nuclei.sort(key=lambda n: (n.y0, n.x0, -n.score, n.mask.shape))
        if frontier is not None:
            self._frontier = frontier
        return nuclei

    def _stitch(self, group: List[TilePrediction]) -> List[StitchedNucleus]:
        windows = np.array([p.window for p in group])
        canvas: Window = (int(windows[:, 0].min()), int(windows[:, 1].min()),
                          int(windows[:, 2].max()), int(windows[:, 3].max()))
        labels, scores = stitch_predictions_with_scores(group, self.image_shape, self.merge_iou,
                                                        self.min_visible, whole_first=True,
                                                        canvas=canvas)
        canvas = _intersect(canvas, (0, 0, *self.image_shape))
        out = []
        for index, box in enumerate(ndimage.find_objects(labels, max_label=len(scores))):
            if box is None:
                continue
            out.append(StitchedNucleus(labels[box] == index + 1, canvas[0] + box[0].start,
                                       canvas[1] + box[1].start, float(scores[index])))
        return out

    def state_bytes(self) -> bytes:
        """The pending predictions, serialised (for resuming)."""
        buffer = io.BytesIO()
        arrays = {}
        for i, p in enumerate(self.pending):
            arrays[f'm{i}'] = np.packbits(p.mask, axis=None)
            arrays[f'h{i}'] = np.array([*p.mask.shape, p.y0, p.x0, *p.tile], np.int64)
            arrays[f's{i}'] = np.array([p.score], np.float64)
        np.savez_compressed(buffer, count=np.array([len(self.pending)]),
                            frontier=np.array([self._frontier]), **arrays)
        return buffer.getvalue()

    def load_state(self, data: bytes) -> None:
        """Restore the pending predictions written by :meth:`state_bytes`."""
        with np.load(io.BytesIO(data)) as stored:
            self._frontier = int(stored['frontier'][0])
            self.pending = []
            for i in range(int(stored['count'][0])):
                h, w, y0, x0, *tile = (int(v) for v in stored[f'h{i}'])
                mask = np.unpackbits(stored[f'm{i}'], count=h * w).reshape(h, w).astype(bool)
                self.pending.append(TilePrediction(mask, y0, x0, float(stored[f's{i}'][0]),
                                                   tuple(tile)))
