"""Make a seed set from ground truth: at most K nuclei per image, chosen at random.

This is the paper's Table V "GT×K" setting, which studies the back-end alone.
It USES PIXEL LABELS and is not part of the weakly-supervised method.
"""
import argparse

from mmcyclic.datasets.label_sets import subsample_ground_truth
from mmcyclic.utils.tool_errors import add_debug_argument, exit_on_user_error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--ann', required=True,
                        help='whole-image COCO file, '
                        'e.g. data/monuseg/annotations/instances_train_full.json')
    parser.add_argument('--k', type=int, default=20, help='nuclei kept per image')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--out', required=True, help='seed-set json to write')
    add_debug_argument(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with exit_on_user_error(args.debug):
        seeds = subsample_ground_truth(args.ann, args.k, args.seed)
        seeds.save(args.out)
    print(f'{args.out}: {len(seeds.annotations)} ground-truth nuclei kept over {len(seeds.images)} '
          f'images (at most {args.k} per image, seed {args.seed}); '
          f'{seeds.count_empty_images()} images have none. NOTE: built from pixel labels (GT×K).')


if __name__ == '__main__':
    main()
