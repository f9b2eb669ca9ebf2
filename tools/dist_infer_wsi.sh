#!/usr/bin/env bash
# Usage: tools/dist_infer_wsi.sh CONFIG CHECKPOINT NPROC SLIDE... --out DIR [infer_wsi.py args]
# Launches NPROC processes with torchrun; each segments its share of the slides (largest
# first) on its own device (cuda:LOCAL_RANK with --device cuda); rank 0 writes summary.csv.
set -euo pipefail
source "$(dirname "$0")/dist_env.sh"
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
dist_launch infer_wsi.py "$NPROC" "$CONFIG" "$CHECKPOINT" "${@:4}"
