#!/usr/bin/env bash
# Create (idempotently) the project's virtual environment with the exact stack.
#
#   scripts/setup_env.sh            # creates ./.venv, or does nothing if it is current
#   MMCYCLIC_VENV=/path scripts/setup_env.sh
#   MMCYCLIC_MMCV_OPS=compiled scripts/setup_env.sh     # mmcv with its compiled ops
#
# mmcv 2.1.0 has no wheel for torch 2.12. Two ways to install it (MMCYCLIC_MMCV_OPS):
#   auto (default)  the compiled wheel if one is cached for this torch and Python,
#                   otherwise mmcv-lite (no compilation; mmcyclic.ops gives mmcv.ops
#                   torchvision's RoIAlign and NMS, the only compiled ops the back-ends use)
#   compiled        compile mmcv with its ops once (12-18 min on 2 cores; FORCE_CUDA=1 for a
#                   CUDA build) into a cache keyed by the torch and Python versions; later
#                   venvs (and CI on the same machine) install it in seconds
#   torchvision     mmcv-lite, even where a compiled wheel is cached
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMCYCLIC_VENV:-$ROOT/.venv}"
PYTHON="${MMCYCLIC_PYTHON:-python3.11}"
TORCH_VERSION=2.12.1
TORCHVISION_VERSION=0.27.1
MMCV_VERSION=2.1.0
CONSTRAINTS="$ROOT/requirements/constraints.txt"
WHEEL_CACHE="${MMCYCLIC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmcyclic/wheels}"
MMCV_OPS="${MMCYCLIC_MMCV_OPS:-auto}"

fail() {
    echo "ERROR: $*" >&2
    exit 1
}

command -v "$PYTHON" >/dev/null || fail "$PYTHON not found. Install Python 3.11 or set MMCYCLIC_PYTHON to a Python 3.11 interpreter."
PY_TAG="$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
MMCV_CACHE="$WHEEL_CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG"
compiled_wheel_cached() { ls "$MMCV_CACHE"/mmcv-*.whl >/dev/null 2>&1; }

# Which mmcv: "compiled" (mmcv with its ops) or "lite" (mmcv-lite, ops from torchvision).
case "$MMCV_OPS" in
    compiled) MMCV_KIND=compiled ;;
    torchvision) MMCV_KIND=lite ;;
    auto) if compiled_wheel_cached; then MMCV_KIND=compiled; else MMCV_KIND=lite; fi ;;
    *) fail "MMCYCLIC_MMCV_OPS=$MMCV_OPS: expected auto, compiled or torchvision." ;;
esac

# The stamp records everything that decides what the venv holds; when it
# matches, a second run is a no-op.
stamp_inputs() {
    cat "$CONSTRAINTS" "$ROOT/requirements/runtime.txt" "$ROOT/requirements/tests.txt" "$ROOT/setup.py"
    echo "$PYTHON mmcv=$MMCV_KIND"
}
STAMP_WANTED="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
STAMP_FILE="$VENV/.mmcyclic-stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP_WANTED" ]] \
    && "$VENV/bin/python" -c "import mmcyclic" 2>/dev/null; then
    echo "Environment $VENV is up to date (mmcv: $MMCV_KIND)."
    exit 0
fi

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

if [[ $MMCV_KIND == compiled ]] && ! compiled_wheel_cached; then
    echo ">>> Compiling mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (12-18 min on 2 cores, done once)"
    mkdir -p "$WHEEL_CACHE"
    tmp="$(mktemp -d "$WHEEL_CACHE/.build.XXXXXX")"
    # --no-cache-dir: never reuse an mmcv wheel that pip cached for another torch.
    MMCV_WITH_OPS=1 FORCE_CUDA="${FORCE_CUDA:-0}" MAX_JOBS="${MAX_JOBS:-2}" \
        "${PIP[@]}" wheel --no-cache-dir --no-build-isolation --no-deps -w "$tmp" "mmcv==$MMCV_VERSION" \
        || fail "building mmcv $MMCV_VERSION failed. It needs gcc/g++ with C++17, ninja and setuptools<81, and torch<=2.13 headers (torch>=2.14 needs C++20). See the log above. Without MMCYCLIC_MMCV_OPS=compiled, set-up installs mmcv-lite and needs no compiler."
    mkdir -p "$MMCV_CACHE"
    mv "$tmp"/mmcv-*.whl "$MMCV_CACHE"/
    rm -rf "$tmp"
fi
# mmcv and mmcv-lite hold the same files: remove the other one before installing this one.
if [[ $MMCV_KIND == compiled ]]; then
    MMCV_REQ=("$MMCV_CACHE"/mmcv-*.whl) OTHER_MMCV=mmcv-lite
    echo ">>> mmcv with compiled ops (cached wheel $MMCV_CACHE), OpenMMLab stack, zennit, pycocotools"
else
    MMCV_REQ=("mmcv-lite==$MMCV_VERSION") OTHER_MMCV=mmcv
    echo ">>> mmcv-lite (no compiled ops: mmcyclic.ops runs RoIAlign and NMS from torchvision; MMCYCLIC_MMCV_OPS=compiled compiles them), OpenMMLab stack, zennit, pycocotools"
fi
"${PIP[@]}" uninstall -q -y "$OTHER_MMCV" >/dev/null 2>&1 || true
# One resolver run: the local mmcv wheel satisfies the mmcv==2.1.0 pin, so pip can neither
# compile mmcv again nor pick a wheel built against another torch; mmcv-lite is a pure wheel.
"${PIP[@]}" install -q -c "$CONSTRAINTS" "${MMCV_REQ[@]}" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    || fail "a pinned package could not be installed; see $CONSTRAINTS for the exact versions."

echo ">>> mmcyclic (editable)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps -e "$ROOT" 2>/dev/null \
    || "${PIP[@]}" install -c "$CONSTRAINTS" --no-deps -e "$ROOT" || fail "pip install -e $ROOT failed"

MMCV_KIND=$MMCV_KIND "$VENV/bin/python" - <<'PY' || fail "the installed stack does not import; see the traceback above."
import os
from importlib.metadata import version
import mmcyclic  # noqa: F401  (first: it decides which ops mmcv.ops gets)
import torch, torchvision, mmcv, mmengine, mmdet, mmpretrain, zennit  # noqa: F401
from mmcv.ops import RoIAlign, nms  # noqa: F401
from mmcyclic.ops import mmcv_ops_backend
assert torch.__version__.split('+')[0] == '2.12.1', torch.__version__
mmcv_dist = 'mmcv' if os.environ['MMCV_KIND'] == 'compiled' else 'mmcv-lite'
print(', '.join(f'{name} {version(name)}' for name in
                ('torch', 'torchvision', mmcv_dist, 'mmengine', 'mmdet', 'mmpretrain', 'zennit', 'pycocotools')))
ops = 'compiled' if os.environ['MMCV_KIND'] == 'compiled' else 'torchvision'
assert mmcv_ops_backend() == ops, f'mmcv.ops runs the {mmcv_ops_backend()} ops, not the {ops} ones'
print(f'mmcv.ops runs the {ops} ops')
PY
echo "$STAMP_WANTED" > "$STAMP_FILE"
echo "Environment ready: $VENV"
