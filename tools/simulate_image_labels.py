"""Make SIMULATED image-level tile labels from instance ground truth.

The paper's classifier data D^C are tiles labelled by pathologists: positive
tiles hold nuclei, negative tiles hold none. Public nuclei datasets ship no
such labels, so this tool *simulates* them from the instance label maps of a
dataset in the ``docs/data_format.md`` layout (MoNuSeg, CoNSeP, synthetic or
generic conversions):

* a crop is **positive** when it holds at least one whole nucleus (its bounding
  box lies inside the crop);
* a crop is **negative** when it holds no nucleus pixel at all;
* crops with only cut nuclei are **ambiguous** and not written (counted).

Negatives are never made by erasing nuclei: a negative is a real nucleus-free
region. Only the images of one split (``train`` by default) are used, so no
test image leaks into the classifier. Dense tissue such as MoNuSeg has almost
no nucleus-free 224 px crop (0 of 6000 measured; 0.3 % at 128 px, 4.8 % at
64 px, 22 % at 32 px), so the default tile is 64 px; the classifier is fully
convolutional and runs on 224 px windows at seed-extraction time at the same
resolution. The output folder gets ``pos/``, ``neg/``, ``train.csv``,
``val.csv`` (tiles of held-out *training-split* images), ``summary.json`` and
a README that says the labels are simulated.

Usage::

    python tools/simulate_image_labels.py data/monuseg --out data/monuseg/tiles_sim64 \
        [--tile-size 64] [--stride 16] [--val-images 2] [--max-per-class 3000] [--seed 0]
"""
import argparse
import sys

from mmcyclic.datasets.simulated_tiles import BANNER, simulate_tile_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='dataset folder in the docs/data_format.md layout')
    parser.add_argument('--out', required=True, help='output folder for pos/, neg/, CSVs')
    parser.add_argument('--split', default='train', help='split whose images are used')
    parser.add_argument('--tile-size', type=int, default=64)
    parser.add_argument('--stride', type=int, default=16, help='candidate grid step (px)')
    parser.add_argument('--val-images', type=int, default=2,
                        help='training-split images whose tiles go to val.csv')
    parser.add_argument('--max-per-class', type=int, default=3000,
                        help='tiles per class in train.csv (val.csv gets a quarter)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    print(BANNER)
    try:
        summary = simulate_tile_labels(args.data_root, args.out, args.split, args.tile_size,
                                       args.stride, args.val_images, args.max_per_class,
                                       args.seed)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'ERROR: {error}')
    c = summary['counts']
    print(f'{len(summary["images"])} {args.split} images, {args.tile_size} px tiles, '
          f'grid step {args.stride} px')
    print(f'candidates: {c["candidate_pos"]} positive, {c["candidate_neg"]} negative, '
          f'{c["ambiguous"]} ambiguous (cut nuclei only, skipped)')
    print(f'written: train {c["train_pos"]} pos / {c["train_neg"]} neg; '
          f'val {c["val_pos"]} pos / {c["val_neg"]} neg -> {args.out}')
    for source_id, reason in summary['unreadable'].items():
        print(f'skipped image {source_id}: {reason}')
    if c['candidate_neg'] == 0:
        print(f'WARNING: no nucleus-free {args.tile_size} px crop exists; try a smaller '
              '--tile-size (see docs/front_end.md).')
    print(BANNER)


if __name__ == '__main__':
    main()
