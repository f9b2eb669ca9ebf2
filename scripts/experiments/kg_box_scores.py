"""How well KG Instance's box scores separate right from wrong detections on validation.

For each ``test_cfg.box_score`` ('votes', 'heatmap') it predicts every validation patch with
no score threshold, calls a detection right when its mask overlaps a ground-truth nucleus with
IoU >= 0.5, and prints the ranking quality (AUC) and the precision / recall kept at several
score thresholds (docs/kg_instance.md, "Scores"). Validation patches only: never the test set.

    python scripts/experiments/kg_box_scores.py \
        configs/reproduce/sparse_labels/full_supervision_kg_instance.py \
        work_dirs/.../epoch_30.pth
"""
import argparse
from typing import List, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from scipy.stats import mannwhitneyu

import mmcyclic  # noqa: F401

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5)


def right_and_scores(model, batches) -> Tuple[np.ndarray, np.ndarray, int]:
    """Per detection: right (mask IoU >= 0.5 with a nucleus) and score; the nucleus count."""
    right: List[bool] = []
    scores: List[float] = []
    nuclei = 0
    for batch in batches:
        data = model.data_preprocessor(batch, False)
        with torch.no_grad():
            pred = model.predict(data['inputs'], data['data_samples'],
                                 rescale=False)[0].pred_instances
        truth = torch.as_tensor(batch['data_samples'][0].gt_instances.masks.to_ndarray()).bool()
        nuclei += len(truth)
        scores += pred.scores.tolist()
        if not len(truth):
            right += [False] * len(pred)
            continue
        masks = pred.masks.bool()
        inter = (masks[:, None] & truth[None]).flatten(2).sum(-1).float()
        union = (masks[:, None] | truth[None]).flatten(2).sum(-1).float()
        right += ((inter / union.clamp(min=1)).amax(1) >= 0.5).tolist()
    return np.array(right, bool), np.array(scores, float), nuclei


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a KG Instance config (its val_dataloader is used)')
    parser.add_argument('checkpoint')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.work_dir = '/tmp/kg_box_scores'
    cfg.val_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', scale_factor=1.0, keep_ratio=True),
        dict(type='PackDetInputs')]
    cfg.model.test_cfg.score_thr = 0.0
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(args.checkpoint)
    model = runner.model.eval()
    batches = list(runner.val_dataloader)
    for box_score in ('votes', 'heatmap'):
        model.test_cfg.box_score = box_score
        right, scores, nuclei = right_and_scores(model, batches)
        auc = mannwhitneyu(scores[right], scores[~right]).statistic / (
            right.sum() * (~right).sum())
        line = [f'{box_score:8s} {len(scores)} detections, {right.sum()} right, {nuclei} nuclei, '
                f'AUC {auc:.3f}, median right {np.median(scores[right]):.2f}, '
                f'median wrong {np.median(scores[~right]):.2f}']
        for thr in THRESHOLDS:
            kept = scores >= thr
            line.append(f'>= {thr}: precision {(right & kept).sum() / max(kept.sum(), 1):.2f} '
                        f'recall {(right & kept).sum() / max(nuclei, 1):.2f}')
        print(' | '.join(line))


if __name__ == '__main__':
    main()
