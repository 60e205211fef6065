#!/usr/bin/env bash
# The NW-UCLA paper rows (linear, 1 % and 10 % labels) with an encoder pretrained on the whole pool.
#   benchmarks/paper_rows_pool.sh                     # runs/pre-pool (2026-12-01)
#   benchmarks/paper_rows_pool.sh runs/pre-pair pair  # pair views (2026-12-02)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
D=../shared/datasets/nw-ucla/all_sqe
E=${1:-runs/pre-pool}/encoder.safetensors
O=runs/paper-${2:-pool}
$PY -m ms2l train --strategy linear --dataset nw-ucla --data $D --encoder $E --seed 0 --device cpu --out $O/linear
$PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 --seed 0 --device cpu --out $O/semi1
$PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.1 --seed 0 --device cpu --out $O/semi10
