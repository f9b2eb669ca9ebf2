#!/usr/bin/env bash
# The seed table with controls of docs/front_end.md §8 (issue 24): each recipe's seeds on the
# 14 Kumar test images from one trained classifier, beside the same recipe on an untrained
# classifier of the same config (initialisation seed 1000, the cycle-1 classifier's of training
# seed 0) and with K drawn at random (tools/extract_seeds.py's controls).
#   CLASSIFIER=work_dirs/reproduce/budget_classifier_e4/epoch_4.pth \
#       bash scripts/experiments/seed_controls.sh
# Relevance maps are computed once per classifier (OUT/rel_*), then reused by every recipe.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CONFIG=${CONFIG:-configs/reproduce/classifier_r18.py}
CLASSIFIER=${CLASSIFIER:?set CLASSIFIER to the trained classifier checkpoint}
OUT=${OUT:-work_dirs/signal}
SPLIT=${SPLIT:-test}
declare -A RECIPES=(
    [default]=""
    [paper]="--preset paper"
    [paper_score]="--preset paper --selection score"
)
# more recipes: RECIPE_NAME="flags" pairs in EXTRA_RECIPES, e.g. EXTRA_RECIPES="cov50=--min-coverage 0.5"
for pair in ${EXTRA_RECIPES:-}; do RECIPES[${pair%%=*}]="${pair#*=}"; done
for name in "${!RECIPES[@]}"; do
    read -r -a flags <<< "${RECIPES[$name]}"
    "$PY" tools/extract_seeds.py "$CONFIG" "$CLASSIFIER" --out "$OUT/seeds_${SPLIT}_$name.json" \
        --images-ann "data/monuseg/annotations/instances_${SPLIT}_full.json" \
        --relevance-dir "$OUT/rel_trained_$SPLIT" --reuse-relevance \
        --control-relevance-dir "$OUT/rel_untrained_$SPLIT" --seed-init 1000 \
        --report-dir "$OUT/report_${SPLIT}_$name" "${flags[@]}"
done
"$PY" scripts/experiments/seed_controls_table.py "$OUT"/report_"${SPLIT}"_*
