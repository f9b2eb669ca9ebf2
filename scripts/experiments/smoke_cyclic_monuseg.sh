#!/usr/bin/env bash
# One cycle of the paper configs on real MoNuSeg within a small CPU budget (docs/results.md):
#   bash scripts/experiments/smoke_cyclic_monuseg.sh configs/cyclic_r50_monu.py work_dirs/smoke_r50
# The budget: 1 classifier epoch on 640 tiles (lr 1e-2: random init), relevance on the
# training images at half resolution, teacher + 1 student of 1 epoch on the first 32 training
# patches, validation on 16 patches (one image).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CONFIG=$1
WORK=$2
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --cfg-options \
    train_cfg.max_cycles=1 train_cfg.self_training.num_students=1 \
    train_cfg.self_training.teacher_epochs=1 train_cfg.self_training.student_epochs=1 \
    train_cfg.classifier.cfg_options.train_cfg.max_epochs=1 \
    train_cfg.classifier.cfg_options.optim_wrapper.optimizer.lr=0.01 \
    train_cfg.classifier.cfg_options.train_dataloader.dataset.indices=640 \
    train_cfg.seeds.image_scale=0.5 \
    train_dataloader.dataset.indices=32 val_dataloader.dataset.indices=16
