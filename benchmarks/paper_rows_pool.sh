#!/usr/bin/env bash
# The NW-UCLA paper rows (linear, 1 % and 10 % labels) with the encoder pretrained on the whole pool.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
D=../shared/datasets/nw-ucla/all_sqe
E=runs/pre-pool/encoder.safetensors
$PY -m ms2l train --strategy linear --dataset nw-ucla --data $D --encoder $E --seed 0 --device cpu --out runs/paper-pool/linear
$PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 --seed 0 --device cpu --out runs/paper-pool/semi1
$PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.1 --seed 0 --device cpu --out runs/paper-pool/semi10
