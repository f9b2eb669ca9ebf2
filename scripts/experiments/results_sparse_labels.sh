#!/usr/bin/env bash
# The sparse-label comparison of docs/results.md ("Self-training from 20 labelled nuclei per
# image"): every row is a config in configs/reproduce/sparse_labels/ at one CPU budget
# (configs/reproduce/sparse_labels/budget_gt20.py), run for each training seed in SEEDS and tested on
# the 14 Kumar test images.
#   bash scripts/experiments/results_sparse_labels.sh                        # every row, SEEDS="0 1"
#   SEEDS="2" bash scripts/experiments/results_sparse_labels.sh gt20_stain_prior full_supervision
#   EXTRA="train_cfg.max_epochs=30 train_cfg.val_interval=5" OUT=work_dirs/budget30 \
#       bash scripts/experiments/results_sparse_labels.sh full_supervision    # a longer budget
# A finished run (its test metrics exist) is skipped; an interrupted one is resumed.
# Needs data/monuseg (tools/dataset_converters/monuseg.py); the GT x 20 seed file is made here.
# The lrp_* rows need the seed files of one tile classifier: CLASSIFIER (default: the cycle-1
# classifier of scripts/results_cyclic_monuseg.sh (commit cd3465b) copied to work_dirs/i14/classifier.pth,
# docs/front_end.md section 7) explains the training images once into RELEVANCE.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-work_dirs/sparse_labels}
SEEDS=${SEEDS:-0 1}
read -r -a EXTRA <<< "${EXTRA:-}"  # more --cfg-options for training, e.g. a longer budget
CLASSIFIER=${CLASSIFIER:-work_dirs/i14/classifier.pth}
RELEVANCE=${RELEVANCE:-work_dirs/i14/rel_plain_train}
ROWS=("$@")
if [[ ${#ROWS[@]} -eq 0 ]]; then
    ROWS=(full_supervision gt20_paper_loss gt20_ignore_other_sets gt20_stain_prior
          gt20_confident_negatives lrp_paper_seeds lrp_score_seeds lrp_default_seeds
          lrp_default_seeds_stain_prior)
fi
TRAIN_ANN=data/monuseg/annotations/instances_train_full.json

[[ -f data/monuseg/seeds_gt20.json ]] || "$PY" tools/make_gt_seeds.py --ann "$TRAIN_ANN" \
    --k 20 --out data/monuseg/seeds_gt20.json

lrp_seeds() {  # $1: recipe name (paper | score | default)
    local out="$OUT/seeds/lrp_$1.json" recipe=()
    [[ -f "$out" ]] && return
    case $1 in
        paper) recipe=(--preset paper) ;;
        score) recipe=(--preset paper --selection score) ;;
        default) recipe=() ;;
    esac
    local reuse=()
    [[ -d "$RELEVANCE" ]] && reuse=(--reuse-relevance)
    "$PY" tools/extract_seeds.py configs/classifier_r18_monu.py "$CLASSIFIER" --out "$out" \
        --images-ann "$TRAIN_ANN" --relevance-dir "$RELEVANCE" "${reuse[@]}" \
        --report-dir "$OUT/seeds/report_$1" "${recipe[@]}"
}

for row in "${ROWS[@]}"; do
    config="configs/reproduce/sparse_labels/$row.py"
    [[ -f "$config" ]] || { echo "ERROR: no row config $config" >&2; exit 2; }
    [[ $row == lrp_*_seeds ]] && { r=${row#lrp_}; lrp_seeds "${r%_seeds}"; }
    for seed in $SEEDS; do
        work="$OUT/${row}_seed$seed"
        if [[ -f "$work/test/metrics.json" ]]; then
            echo "== $work: done"
            continue
        fi
        resume=()
        [[ -f "$work/self_training/state.json" || -f "$work/last_checkpoint" ]] && resume=(--resume)
        start=$(date +%s)
        echo "== $work: train ($(date +%T))"
        "$PY" tools/train.py "$config" --work-dir "$work" "${resume[@]}" \
            --cfg-options randomness.seed="$seed" "${EXTRA[@]}"
        if [[ $row == full_supervision* ]]; then
            ckpt=$(ls "$work"/best_nuclei_pixel_dice_epoch_*.pth | head -n 1)
        else
            ckpt="$work/self_training/best_student.pth"
        fi
        echo "== $work: test $ckpt ($(date +%T))"
        "$PY" tools/test.py "$config" "$ckpt" --work-dir "$work/test" --out-dir "$work/test"
        echo "$(( $(date +%s) - start ))" > "$work/test/wall_seconds.txt"
    done
done
"$PY" scripts/experiments/results_sparse_labels_table.py "$OUT"
