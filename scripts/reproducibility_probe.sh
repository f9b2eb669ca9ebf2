#!/usr/bin/env bash
# Where do CPU training runs part? One epoch of the demo detector on a tiny generated data set,
# once per environment below; prints a digest of all trained weights per run (equal digests:
# bitwise identical weights). The numbers behind docs/results.md, "Reproducibility across
# machines". About 1 min per run on 2 cores.
#   bash scripts/reproducibility_probe.sh [WORK]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${1:-work_dirs/reproducibility_probe}
DATA=$WORK/data
if [[ ! -f $DATA/annotations/instances_train.json ]]; then  # tests/conftest.py's tiny_synthetic
    "$PY" -c "from mmcyclic.datasets.converters.synthetic import convert_synthetic
convert_synthetic('$DATA', num_train=6, num_val=2, num_test=2, size=96, seed=3, patch_size=96,
                  progress=False)" > /dev/null
fi
OPTIONS=(train_cfg.max_epochs=1 "train_dataloader.dataset.pipeline.2.crop_size=(64,64)")
for loader in train val test; do
    OPTIONS+=("$loader"_dataloader.num_workers=0 "$loader"_dataloader.persistent_workers=False
              "$loader"_dataloader.dataset.data_root="$DATA"/)
done
run() {  # NAME LAUNCHER...: e.g. `run one_thread env OMP_NUM_THREADS=1`
    local name=$1; shift
    rm -rf "${WORK:?}/$name"
    "$@" "$PY" tools/train.py configs/mask_rcnn_r18_synthetic.py --work-dir "$WORK/$name" \
        --cfg-options "${OPTIONS[@]}" > "$WORK/$name.log" 2>&1
    "$PY" - "$WORK/$name/epoch_1.pth" "$name: $*" <<'PY'
import hashlib
import sys

import torch
state = torch.load(sys.argv[1], map_location='cpu', weights_only=False)['state_dict']
digest = hashlib.sha256(b''.join(state[k].numpy().tobytes() for k in sorted(state)))
print(f'{digest.hexdigest()[:16]}  {sys.argv[2]}')
PY
}
run default env
run rerun env
run one_thread env OMP_NUM_THREADS=1
run onednn_sse41 env ONEDNN_MAX_CPU_ISA=SSE41
run mkl_sse42 env MKL_CBWR=SSE4_2
(   # the demo's environment, on two cores and on one
    source scripts/reproducible_cpu.sh
    run pinned_two_cores env
    run pinned_one_core taskset -c 0
)
