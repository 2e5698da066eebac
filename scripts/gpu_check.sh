#!/usr/bin/env bash
# The prepared GPU check (scripts/gpu_check.py): one command, under 8 minutes on one GPU.
#   scripts/gpu_check.sh                 # on a GPU machine; figures in results/gpu_check/gpu_check.json
#   scripts/gpu_check.sh --smoke         # CPU, tiny sizes (CI)
# Extra arguments go to scripts/gpu_check.py (e.g. --only loader ensemble, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [[ " $* " == *" --smoke "* ]]; then
  OUT=${GPU_CHECK_OUT:-$(mktemp -d)/gpu_check_smoke.json}
  exec env OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} timeout 600 "$PY" scripts/gpu_check.py --device cpu --out "$OUT" "$@"
fi
OUT=${GPU_CHECK_OUT:-results/gpu_check/gpu_check.json}
exec timeout 480 "$PY" scripts/gpu_check.py --out "$OUT" "$@"
