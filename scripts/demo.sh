#!/usr/bin/env bash
# The embedded demo: generate synthetic H&E with known nuclei, train the small
# fully-supervised Mask R-CNN on it, test on held-out images, draw the result.
# Until the cyclic loop lands this is the baseline; about 5-10 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CONFIG=configs/mask_rcnn_r18_synthetic.py
WORK=work_dirs/demo

if [[ ! -f data/synthetic/annotations/instances_train.json ]]; then
    "$PY" tools/dataset_converters/make_synthetic.py --out data/synthetic
fi
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT=$(ls -t "$WORK"/best_*.pth | head -n 1)
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out-dir "$WORK/test"
"$PY" tools/visualize_results.py data/synthetic "$WORK/test/label_maps" --out "$WORK/demo.png"
echo "Demo done: metrics above, per-image scores in $WORK/test/nuclei_per_image.csv, picture in $WORK/demo.png"
