#!/usr/bin/env bash
# The CPU-budget real-data comparison of docs/results.md: bilateral vs unilateral vs cycle 1
# only, ResNet-18 at both ends (configs/cyclic_r18_monu.py), scored on the 14 Kumar test
# images. The unilateral run reuses the bilateral run's cycle 1 (identical by construction:
# same seed, and cycle 1 sends nothing back in either mode) and runs only its cycle 2.
# Needs data/monuseg (tools/dataset_converters/monuseg.py) and its simulated tile labels
# (tools/simulate_image_labels.py data/monuseg --out data/monuseg/tiles_sim64 --tile-size 64).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CONFIG=configs/cyclic_r18_monu.py
OUT=${OUT:-work_dirs/results_cyclic_monuseg}
BUDGET=(train_cfg.max_cycles=2 train_cfg.self_training.num_students=1
        train_cfg.self_training.teacher_epochs=2 train_cfg.self_training.student_epochs=2
        train_cfg.self_training.score_thr=0.1
        train_cfg.classifier.cfg_options.train_cfg.max_epochs=1 train_cfg.seeds.image_scale=0.5
        train_dataloader.dataset.indices=64 val_dataloader.dataset.indices=32)

"$PY" tools/train.py "$CONFIG" --work-dir "$OUT/bilateral" --cfg-options "${BUDGET[@]}"

mkdir -p "$OUT/unilateral"
cp -r "$OUT/bilateral/cycle_1" "$OUT/bilateral/initial_weights.pth" "$OUT/unilateral/"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
text = open(f'{out}/bilateral/cyclic_state.json').read().replace(
    f'{out}/bilateral', f'{out}/unilateral')
state = json.loads(text)
state = dict(cycles=state['cycles'][:1], units={})
state['cycles'][0]['mode'] = 'unilateral'
json.dump(state, open(f'{out}/unilateral/cyclic_state.json', 'w'), indent=1)
PYEOF
"$PY" tools/train.py "$CONFIG" --work-dir "$OUT/unilateral" --resume \
    --cfg-options "${BUDGET[@]}" train_cfg.mode=unilateral

for run in bilateral/cycle_1 bilateral/cycle_2 unilateral/cycle_2; do
    "$PY" tools/test.py "$CONFIG" "$OUT/$run/best_student.pth" --work-dir "$OUT/test_${run//\//_}" \
        --out-dir "$OUT/test_${run//\//_}"
done
