#!/usr/bin/env bash
# The sparse-label comparison (configs/reproduce/sparse_labels/) at a GPU budget, on the device machine:
# every row for training seeds 0 and 1, all runs at once on the one GPU, each tested on the 14
# Kumar test images. Prepare with scripts/device/make_bundle.sh here, then run there with
# carry [.dev, .whl]:  bash scripts/device/run_sparse_labels.sh
# Budget (every row): ResNet-18 Mask R-CNN from random init, the first TRAIN_PATCHES training
# patches (TRAIN_PATCHES/16 images), batch 2; self-training: teacher + 2 students of EPOCHS
# epochs each; full supervision: 3 x EPOCHS epochs, validated every EPOCHS (same iterations);
# selection by validation Dice on 32 validation patches. Results: $OUT/results.tar.gz
# (refreshed every 20 s, so a run cut short still returns what finished).
set -uo pipefail
cd "$(dirname "$0")/../.."
TRAIN_PATCHES=${TRAIN_PATCHES:-128}
EPOCHS=${EPOCHS:-6}
SEEDS=${SEEDS:-0 1}
ROWS=${ROWS:-full_supervision gt20_paper_loss gt20_ignore_other_sets gt20_stain_prior
      gt20_confident_negatives lrp_paper_seeds lrp_score_seeds lrp_default_seeds
      lrp_default_seeds_stain_prior}
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
tar -C /tmp -xzf .dev/py.tar.gz || exit 1
export PYTHONPATH=/tmp/py:/tmp/site:$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
rm -rf data/monuseg && ln -s "$PWD/.dev/data/monuseg" data/monuseg
mkdir -p work_dirs/sparse_labels/seeds && cp .dev/seeds/*.json work_dirs/sparse_labels/seeds/
python3 -c "import torch, mmcyclic, mmdet; print('cuda', torch.cuda.is_available(), torch.__version__)" \
    || exit 1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
RUNS=work_dirs/device_sparse_labels
mkdir -p "$RUNS"

run() {  # row seed
    local config=configs/reproduce/sparse_labels/$1.py work=$RUNS/$1_seed$2 ckpt start=$SECONDS
    local budget=(randomness.seed=$2 train_dataloader.dataset.indices=$TRAIN_PATCHES)
    if [[ $1 == full_supervision ]]; then
        budget+=(train_cfg.max_epochs=$((3 * EPOCHS)) train_cfg.val_interval=$EPOCHS
                 default_hooks.checkpoint.interval=$EPOCHS)
    else
        budget+=(train_cfg.teacher_epochs=$EPOCHS train_cfg.student_epochs=$EPOCHS)
    fi
    python3 tools/train.py "$config" --work-dir "$work" --cfg-options "${budget[@]}" \
        > "$work.train.log" 2>&1 || { echo "$1 seed $2: training failed"; return; }
    if [[ $1 == full_supervision ]]; then
        ckpt=$(ls "$work"/best_nuclei_pixel_dice_epoch_*.pth | head -n 1)
    else
        ckpt=$work/self_training/best_student.pth
    fi
    python3 tools/test.py "$config" "$ckpt" --work-dir "$work/test" --out-dir "$work/test" \
        > "$work.test.log" 2>&1 || { echo "$1 seed $2: test failed"; return; }
    echo $((SECONDS - start)) > "$work/test/wall_seconds.txt"
    echo "$1 seed $2: done in $((SECONDS - start)) s"
}

pack() {
    (cd work_dirs && find device_sparse_labels -type f \( -name metrics.json \
        -o -name self_training.json -o -name scalars.json -o -name wall_seconds.txt \
        -o -name '*.log' -o -name nuclei_per_image.csv \) -print0 \
        | tar -czf "$OUT/results.tar.gz.tmp" --null -T - \
        && mv "$OUT/results.tar.gz.tmp" "$OUT/results.tar.gz")
}

for seed in $SEEDS; do
    for row in $ROWS; do
        run "$row" "$seed" &
        sleep 2
    done
done
while [[ -n $(jobs -r) ]]; do sleep 20; pack; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done
wait
pack
echo "all done in $SECONDS s"
