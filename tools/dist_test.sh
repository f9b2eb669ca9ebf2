#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]
# Launches NPROC processes with torchrun (gloo on CPU, NCCL on GPUs).
set -euo pipefail
source "$(dirname "$0")/dist_env.sh"
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
dist_launch test.py "$NPROC" "$CONFIG" "$CHECKPOINT" "${@:4}"
