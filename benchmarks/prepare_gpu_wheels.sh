#!/usr/bin/env bash
# Wheels for the GPU machine, which has torch, typer, rich, pillow, numpy and pyyaml but not
# Hydra, and no package registry to fetch it from: run this here (PyPI reachable), then carry
# the folder .whl/ (git-ignored) with the run; benchmarks/gpu_check.sh installs from it there.
#
#   bash benchmarks/prepare_gpu_wheels.sh        # -> .whl/*.whl (about 0.4 MiB) and .whl/COMMIT
#
# The pins are the versions the project's .venv resolves to (`pip show hydra-core omegaconf
# antlr4-python3-runtime`). All three are pure Python, so a wheel fits any Python 3; --no-deps
# because their own needs (packaging, PyYAML) are already on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
dest=.whl
mkdir -p "$dest"

# hydra-core and omegaconf publish wheels; ask for ones a Python 3.12 accepts.
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d "$dest" \
    hydra-core==1.3.8 omegaconf==2.3.1
# antlr4-python3-runtime 4.9.3 (omegaconf 2.3 needs 4.9.*) is published as a source archive
# only: build its wheel here (py3-none-any).
if ! ls "$dest"/antlr4_python3_runtime-4.9.3-*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip wheel --quiet --no-deps --no-binary=:all: -w "$dest" antlr4-python3-runtime==4.9.3
fi

# Exactly one wheel per package (two versions of one stop the install there), all pure Python.
for name in hydra_core omegaconf antlr4_python3_runtime; do
    count=$(ls "$dest"/"$name"-*.whl | wc -l)
    [ "$count" -eq 1 ] || { echo "prepare_gpu_wheels: $count wheels of $name in $dest/" >&2; exit 1; }
done
if ls "$dest"/*.whl | grep -v -- '-none-any\.whl$'; then
    echo "prepare_gpu_wheels: the wheels above are not pure Python" >&2
    exit 1
fi

# The checkout's commit, for the environment report: the working tree travels without .git.
{
    git rev-parse HEAD 2>/dev/null || echo unknown
    if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then echo "(uncommitted changes)"; fi
} >"$dest/COMMIT"
ls -l "$dest"
du -sh "$dest"
