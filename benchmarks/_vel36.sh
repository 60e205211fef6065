# Sourced by the run_issue13_* scripts that start from the velocity encoder: the repository root as the working
# directory, PY (the interpreter), R (the results folder), E (the encoder) and STAGE (the script's first argument).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
E=runs/pre-vel36/encoder.safetensors
[ -f $E ] || { echo "no $E: run benchmarks/run_issue13_vel.sh first" >&2; exit 2; }
STAGE=${1:-all}
