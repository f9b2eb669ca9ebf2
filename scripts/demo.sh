#!/usr/bin/env bash
# The embedded demo: generate synthetic H&E with known nuclei and simulated tile labels,
# run two cycles of cyclic learning (ResNet-18 classifier <-> ResNet-18 Mask R-CNN),
# test the best student on held-out images and draw the result. ~10 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# The same numbers on any x86-64 machine with AVX2: fixed threads and kernel choice.
source scripts/reproducible_cpu.sh
CONFIG=configs/cyclic_r18_synthetic.py
WORK=work_dirs/demo

if [[ ! -f data/synthetic/annotations/instances_train_full.json ]]; then
    "$PY" tools/dataset_converters/make_synthetic.py --out data/synthetic
fi
if [[ ! -f data/synthetic/tiles_sim32/train.csv ]]; then
    "$PY" tools/simulate_image_labels.py data/synthetic --out data/synthetic/tiles_sim32 \
        --tile-size 32 --stride 8 --val-images 2 --max-per-class 600
fi
rm -rf "$WORK"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
"$PY" tools/test.py "$CONFIG" "$WORK/best_student.pth" --work-dir "$WORK" --out-dir "$WORK/test"
"$PY" tools/visualize_results.py data/synthetic "$WORK/test/label_maps" --out "$WORK/demo.png"
echo
echo "Per-cycle results (validation images; the test metrics are printed above):"
"$PY" tools/summarize_cycles.py "$WORK"
echo "Demo done: $WORK/summary.png (every cycle and student), $WORK/demo.png (test prediction),"
echo "per-image test scores in $WORK/test/nuclei_per_image.csv"
