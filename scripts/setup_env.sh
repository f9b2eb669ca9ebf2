#!/usr/bin/env bash
# Create (idempotently) the project's virtual environment with the exact stack.
#
#   scripts/setup_env.sh            # creates ./.venv, or does nothing if it is current
#   MMCYCLIC_VENV=/path scripts/setup_env.sh
#
# mmcv 2.1.0 has no wheel for torch 2.12, so it is compiled once (12-18 min on
# 2 cores) and the wheel is kept in a cache keyed by the torch and Python
# versions; later venvs (and CI on the same machine) install it in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMCYCLIC_VENV:-$ROOT/.venv}"
PYTHON="${MMCYCLIC_PYTHON:-python3.11}"
TORCH_VERSION=2.12.1
TORCHVISION_VERSION=0.27.1
MMCV_VERSION=2.1.0
CONSTRAINTS="$ROOT/requirements/constraints.txt"
WHEEL_CACHE="${MMCYCLIC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmcyclic/wheels}"

fail() {
    echo "ERROR: $*" >&2
    exit 1
}

# The stamp records everything that decides what the venv holds; when it
# matches, a second run is a no-op.
stamp_inputs() {
    cat "$CONSTRAINTS" "$ROOT/requirements/runtime.txt" "$ROOT/requirements/tests.txt" "$ROOT/setup.py"
    echo "$PYTHON"
}
STAMP_WANTED="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
STAMP_FILE="$VENV/.mmcyclic-stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP_WANTED" ]] \
    && "$VENV/bin/python" -c "import mmcyclic" 2>/dev/null; then
    echo "Environment $VENV is up to date."
    exit 0
fi

command -v "$PYTHON" >/dev/null || fail "$PYTHON not found. Install Python 3.11 or set MMCYCLIC_PYTHON to a Python 3.11 interpreter."
PY_TAG="$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo ">>> Creating virtual environment $VENV ($PYTHON)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

echo ">>> Build tools"
"${PIP[@]}" install -q --upgrade pip wheel ninja "setuptools>=77,<81" \
    || fail "could not install build tools (pip, wheel, ninja, setuptools<81); check network access to PyPI."

echo ">>> torch $TORCH_VERSION + torchvision $TORCHVISION_VERSION"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
    || fail "torch==$TORCH_VERSION could not be installed for $PY_TAG. Use Python 3.11 (MMCYCLIC_PYTHON) or check that PyPI serves this release."

MMCV_CACHE="$WHEEL_CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG"
if ! ls "$MMCV_CACHE"/mmcv-*.whl >/dev/null 2>&1; then
    echo ">>> Compiling mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (12-18 min on 2 cores, done once)"
    mkdir -p "$WHEEL_CACHE"
    tmp="$(mktemp -d "$WHEEL_CACHE/.build.XXXXXX")"
    # --no-cache-dir: never reuse an mmcv wheel that pip cached for another torch.
    MMCV_WITH_OPS=1 FORCE_CUDA="${FORCE_CUDA:-0}" MAX_JOBS="${MAX_JOBS:-2}" \
        "${PIP[@]}" wheel --no-cache-dir --no-build-isolation --no-deps -w "$tmp" "mmcv==$MMCV_VERSION" \
        || fail "building mmcv $MMCV_VERSION failed. It needs gcc/g++ with C++17, ninja and setuptools<81, and torch<=2.13 headers (torch>=2.14 needs C++20). See the log above."
    mkdir -p "$MMCV_CACHE"
    mv "$tmp"/mmcv-*.whl "$MMCV_CACHE"/
    rm -rf "$tmp"
fi
echo ">>> mmcv (cached wheel $MMCV_CACHE), OpenMMLab stack, zennit, pycocotools"
# One resolver run: the local mmcv wheel satisfies the mmcv==2.1.0 pin, so pip
# can neither compile mmcv again nor pick a wheel built against another torch.
"${PIP[@]}" install -q -c "$CONSTRAINTS" "$MMCV_CACHE"/mmcv-*.whl \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    || fail "a pinned package could not be installed; see $CONSTRAINTS for the exact versions."

echo ">>> mmcyclic (editable)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps -e "$ROOT" 2>/dev/null \
    || "${PIP[@]}" install -c "$CONSTRAINTS" --no-deps -e "$ROOT" || fail "pip install -e $ROOT failed"

"$VENV/bin/python" - <<'PY' || fail "the installed stack does not import; see the traceback above."
from importlib.metadata import version
import torch, torchvision, mmcv, mmengine, mmdet, mmpretrain, zennit  # noqa: F401
from mmcv.ops import nms  # noqa: F401  (proves the compiled ops are there)
assert torch.__version__.split('+')[0] == '2.12.1', torch.__version__
print(', '.join(f'{name} {version(name)}' for name in
                ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet', 'mmpretrain', 'zennit', 'pycocotools')))
import mmcyclic  # noqa: F401
PY
echo "$STAMP_WANTED" > "$STAMP_FILE"
echo "Environment ready: $VENV"
