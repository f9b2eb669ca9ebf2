"""SIMULATED image-level tile labels made from instance ground truth.

The paper's classifier data D^C are tiles labelled by pathologists; public
nuclei datasets ship no such labels. :func:`simulate_tile_labels` makes them
from instance label maps (positive: a crop holds a whole nucleus; negative: no
nucleus pixel; crops with cut nuclei only are skipped and counted). Negatives
are never made by erasing nuclei. ``tools/simulate_image_labels.py`` is the
command-line front end.
"""
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from scipy import ndimage

from mmcyclic.datasets.io import ImageReadError, read_image, read_label_map, write_image
from mmcyclic.utils.atomic import atomic_write_bytes, atomic_write_json

BANNER = ('*** SIMULATED IMAGE-LEVEL LABELS: derived from instance ground truth by '
          'tools/simulate_image_labels.py, NOT given by a pathologist. ***')


def label_crops(label_map: np.ndarray, tile_size: int,
                stride: int) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]], int]:
    """Classify every grid crop of a label map as positive, negative or ambiguous.

    Args:
        label_map: Instance label map (0 = background).
        tile_size: Crop side in pixels.
        stride: Grid step in pixels.

    Returns:
        ``(positive origins, negative origins, number of ambiguous crops)``;
        origins are ``(y0, x0)``.
    """
    height, width = label_map.shape
    if height < tile_size or width < tile_size:
        return [], [], 0
    ys = np.arange(0, height - tile_size + 1, stride)
    xs = np.arange(0, width - tile_size + 1, stride)
    # Nucleus pixels per crop from a summed-area table.
    table = np.pad((label_map > 0).astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    y1, x1 = ys + tile_size, xs + tile_size
    counts = (table[y1][:, x1] - table[ys][:, x1] - table[y1][:, xs] + table[ys][:, xs])
    # A crop holds a whole nucleus when it contains the nucleus' bounding box.
    boxes = np.array([(s[0].start, s[0].stop, s[1].start, s[1].stop)
                      for s in ndimage.find_objects(label_map) if s is not None]).reshape(-1, 4)
    whole = np.zeros(counts.shape, dtype=bool)
    for r0, r1, c0, c1 in boxes:
        if r1 - r0 > tile_size or c1 - c0 > tile_size:
            continue
        rows = (ys <= r0) & (ys + tile_size >= r1)
        cols = (xs <= c0) & (xs + tile_size >= c1)
        whole[np.ix_(rows, cols)] = True
    positive = [(int(ys[i]), int(xs[j])) for i, j in zip(*np.nonzero(whole))]
    negative = [(int(ys[i]), int(xs[j])) for i, j in zip(*np.nonzero(counts == 0))]
    ambiguous = int(counts.size - len(positive) - len(negative))
    return positive, negative, ambiguous


def _split_images(ids: List[str], val_images: int, rng: np.random.Generator) -> Dict[str, str]:
    if val_images >= len(ids):
        raise ValueError(f'--val-images {val_images} leaves no training image of {len(ids)}')
    held_out = set(rng.choice(ids, size=val_images, replace=False).tolist() if val_images else [])
    return {i: ('val' if i in held_out else 'train') for i in ids}


def _readme(summary: dict) -> str:
    c = summary['counts']
    held_out = ', '.join(summary['val_images']) or '-'
    return f"""# {BANNER}

Made by `tools/simulate_image_labels.py` from the instance label maps of
`{summary['data_root']}` (split `{summary['split']}` only: {len(summary['images'])} images).

* positive tile: a {summary['tile_size']} px crop that holds at least one whole nucleus;
* negative tile: a crop without any nucleus pixel (a real nucleus-free region; no nucleus
  was erased);
* crops with only cut nuclei were skipped ({c['ambiguous']} candidates).

Candidates on a {summary['stride']} px grid: {c['candidate_pos']} positive,
{c['candidate_neg']} negative.
Written (at most {summary['max_per_class']} per class, sampled with seed {summary['seed']}):

| part | positive | negative |
|---|---|---|
| train.csv | {c['train_pos']} | {c['train_neg']} |
| val.csv (held-out training-split images {held_out}) | {c['val_pos']} | {c['val_neg']} |

Real labels from a pathologist replace these: put tiles under `pos/` and `neg/`, or list them in a
`path,label` CSV (`mmcyclic.datasets.tile_dataset.ImageLabelTileDataset`).
"""


def simulate_tile_labels(data_root: str, out_dir: str, split: str = 'train', tile_size: int = 64,
                         stride: int = 16, val_images: int = 2, max_per_class: int = 3000,
                         seed: int = 0) -> dict:
    """Write simulated pos/neg tiles of one split; return the summary dict."""
    ann_path = osp.join(data_root, 'annotations', f'instances_{split}_full.json')
    if not osp.isfile(ann_path):
        raise FileNotFoundError(f'{ann_path}: not found. Convert the dataset first '
                                '(tools/dataset_converters, docs/data_format.md).')
    with open(ann_path, encoding='utf-8') as handle:
        images = json.load(handle)['images']
    rng = np.random.default_rng(seed)
    part_of = _split_images([img['source_id'] for img in images], val_images, rng)
    candidates = {part: {'pos': [], 'neg': []} for part in ('train', 'val')}
    ambiguous, unreadable = 0, {}
    for img in images:
        try:
            image = read_image(osp.join(data_root, img['file_name']))
            label_map = read_label_map(osp.join(data_root, img['label_map']))
        except (ImageReadError, KeyError) as error:
            unreadable[img.get('source_id', str(img.get('id')))] = str(error)
            continue
        pos, neg, amb = label_crops(label_map, tile_size, stride)
        ambiguous += amb
        part = part_of[img['source_id']]
        candidates[part]['pos'] += [(img['source_id'], image, o) for o in pos]
        candidates[part]['neg'] += [(img['source_id'], image, o) for o in neg]
    out = Path(out_dir)
    counts = {'ambiguous': ambiguous,
              'candidate_pos': sum(len(c['pos']) for c in candidates.values()),
              'candidate_neg': sum(len(c['neg']) for c in candidates.values())}
    for part, by_class in candidates.items():
        rows = ['path,label']
        for name, items in by_class.items():
            budget = max_per_class if part == 'train' else max_per_class // 4
            chosen = rng.permutation(len(items))[:budget]
            for k in sorted(chosen.tolist()):
                source_id, image, (y0, x0) = items[k]
                rel = f'{name}/{source_id}_y{y0}_x{x0}.png'
                write_image(out / rel, image[y0:y0 + tile_size, x0:x0 + tile_size])
                rows.append(f'{rel},{name}')
            counts[f'{part}_{name}'] = len(chosen)
        atomic_write_bytes(out / f'{part}.csv', ('\n'.join(rows) + '\n').encode())
    summary = {'simulated': True, 'warning': BANNER, 'data_root': data_root, 'split': split,
               'tile_size': tile_size, 'stride': stride, 'max_per_class': max_per_class,
               'seed': seed, 'images': sorted(part_of),
               'val_images': sorted(k for k, v in part_of.items() if v == 'val'),
               'unreadable': unreadable, 'counts': counts}
    atomic_write_json(out / 'summary.json', summary, indent=1)
    atomic_write_bytes(out / 'README.md', _readme(summary).encode())
    return summary
