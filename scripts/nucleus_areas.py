"""Sizes of the ground-truth nuclei of a converted dataset's training split (pixels).

The numbers behind ``inference.min_area`` in ``configs/_base_/datasets/``::

    python scripts/nucleus_areas.py data/monuseg
"""
import argparse
import json
from pathlib import Path

import numpy as np

from mmcyclic.datasets.io import read_label_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='a converted dataset (docs/data_format.md)')
    root = Path(parser.parse_args().data_root)
    train = json.loads((root / 'splits.json').read_text())['train']
    areas = []
    for sample_id in train:
        label_file = next((root / 'labels').glob(f'{sample_id}.*'))
        counts = np.bincount(read_label_map(label_file).ravel())[1:]
        areas.extend(counts[counts > 0])
    areas = np.asarray(areas)
    percentiles = np.percentile(areas, [0.1, 0.5, 1, 5, 50])
    print(f'{root}: {len(areas)} nuclei in {len(train)} training images; smallest {areas.min()} '
          'px; percentiles 0.1/0.5/1/5/50: ' + ' / '.join(f'{p:.0f}' for p in percentiles))


if __name__ == '__main__':
    main()
