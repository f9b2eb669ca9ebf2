# Sourced by dist_train.sh and dist_test.sh: the torchrun launch shared by both.
# Usage inside them: dist_launch SCRIPT CONFIG NPROC [args...]
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The interpreter: $PYTHON if set, else the venv of `make setup` ($MMCYCLIC_VENV or .venv),
# else python from PATH (an activated environment).
VENV="${MMCYCLIC_VENV:-$ROOT/.venv}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$VENV/bin/python" ]]; then
        PYTHON="$VENV/bin/python"
    else
        PYTHON=python
    fi
fi

dist_launch() {
    local script=$1 nproc=$2
    shift 2
    PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
    "$PYTHON" -m torch.distributed.run \
        --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
        --nproc_per_node="$nproc" --master_port="$PORT" \
        "$ROOT/tools/$script" "$@" --launcher pytorch
}
