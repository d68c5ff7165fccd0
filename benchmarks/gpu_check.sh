#!/usr/bin/env bash
# The GPU check in one command (benchmarks/gpu_check.py says what it runs and writes):
#
#   bash benchmarks/gpu_check.sh OUT_DIR              # on a GPU machine: under 8 minutes
#   bash benchmarks/gpu_check.sh --dry-run OUT_DIR    # the same on the CPU at tiny sizes (CI)
#
# PYTHON picks the interpreter (default python3). A Python without Hydra (the GPU machine's,
# which has torch but no package registry) gets hydra-core, omegaconf and antlr4 installed from
# the wheels in .whl/ (benchmarks/prepare_gpu_wheels.sh, run beforehand where PyPI is reachable)
# into a temporary folder; gan-cli itself runs from this checkout, so nothing needs building.
set -euo pipefail
PYTHON=${PYTHON:-python3}
mode=()
if [ "${1:-}" = "--dry-run" ]; then
    mode=(--dry-run)
    shift
fi
if [ $# -ne 1 ]; then
    echo "usage: bash benchmarks/gpu_check.sh [--dry-run] OUT_DIR" >&2
    exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."

if ! "$PYTHON" -c 'import hydra, omegaconf' 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "gpu_check: $PYTHON has no Hydra and .whl/ holds no wheels;" \
            "run benchmarks/prepare_gpu_wheels.sh where PyPI is reachable and carry .whl" >&2
        exit 1
    fi
    site=$(mktemp -d)
    "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu_check.py "${mode[@]}" "$out"
