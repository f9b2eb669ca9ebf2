"""Draw ground truth and predicted nuclei over the images (one row per image)."""
import argparse
import sys
from pathlib import Path

from mmcyclic.apis.overlay import save_comparison_figure
from mmcyclic.datasets.io import ImageReadError, read_image, read_label_map


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('data_root',
                        help='dataset folder with images/ and labels/ (docs/data_format.md)')
    parser.add_argument('pred_dir', help='folder of predicted label maps named <image id>.png')
    parser.add_argument('--out', required=True, help='PNG to write; with several images, '
                        'one file per image is written beside it as <stem>_<id>.png')
    parser.add_argument('--num', type=int, default=2, help='how many images to draw')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    preds = sorted(Path(args.pred_dir).glob('*.png'))[:args.num]
    if not preds:
        sys.exit(f'ERROR: {args.pred_dir}: no predicted label maps (*.png) found')
    out = Path(args.out)
    for k, pred_path in enumerate(preds):
        image_id = pred_path.stem
        root = Path(args.data_root)
        try:
            image = read_image(root / 'images' / f'{image_id}.png')
            gt = read_label_map(root / 'labels' / f'{image_id}.png')
            pred = read_label_map(pred_path)
        except ImageReadError as error:
            print(f'skipped {image_id}: {error}', file=sys.stderr)
            continue
        target = out if k == 0 else out.with_name(f'{out.stem}_{image_id}{out.suffix}')
        save_comparison_figure(target, image, [('H&E', None), ('ground truth', gt),
                                               ('prediction', pred)], title=image_id)
        print(f'wrote {target}')


if __name__ == '__main__':
    main()
