#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args]
# Launches NPROC processes with torchrun (gloo on CPU, NCCL on GPUs).
set -euo pipefail
source "$(dirname "$0")/dist_env.sh"
CONFIG=$1
NPROC=$2
dist_launch train.py "$NPROC" "$CONFIG" "${@:3}"
