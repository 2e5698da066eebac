#!/usr/bin/env bash
# The prepared GPU check (scripts/gpu_check.py): one command, under 8 minutes on one GPU, start-up included (each
# section's budget is in gpu_check.py, BUDGET_S; the slowest are skipped first when time runs short).
#   scripts/gpu_check.sh                 # on a GPU machine; report in results/gpu_check/gpu_check.json
#   scripts/gpu_check.sh --smoke         # CPU, tiny sizes (CI): every section, every method through the runner
# Extra arguments go to scripts/gpu_check.py (e.g. --only end_to_end paper_recipe, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [[ " $* " == *" --smoke "* ]]; then
  OUT=${GPU_CHECK_OUT:-$(mktemp -d)/gpu_check_smoke.json}
  exec env OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} timeout 600 "$PY" scripts/gpu_check.py --device cpu --time-limit 600 \
    --out "$OUT" "$@"
fi
OUT=${GPU_CHECK_OUT:-results/gpu_check/gpu_check.json}
exec timeout 480 "$PY" scripts/gpu_check.py --time-limit 480 --out "$OUT" "$@"
