#!/usr/bin/env bash
# Session of 2026-12-02 (fourth): self-training (ms2l/selftrain.py) with the velocity encoder runs/pre-vel36
# (rebuild it with benchmarks/run_issue13_vel.sh if missing) -- what ran, in order.
#   k = 5 on NW-UCLA and UTD-MHAD with 2 rounds of pseudo-labelling the rest of the training split, then the
#   NW-UCLA paper rows (linear, 1 %, 10 %) with the encoder, without and with self-training.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
D=../shared/datasets/nw-ucla/all_sqe
E=runs/pre-vel36/encoder.safetensors
[ -f $E ] || { echo "no $E: run benchmarks/run_issue13_vel.sh first" >&2; exit 2; }
F="$PY benchmarks/fewshot.py --threads 2 --strategies finetune --encoders vel36=$E"
$F --dataset nw-ucla --ks 5 --draws 5 --self-train 2 --out $R/fewshot_nwucla.json
benchmarks/paper_rows_pool.sh runs/pre-vel36 vel36
O=runs/paper-vel36
for f in 0.1 0.01; do
  $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction $f --self-train 2 \
      --seed 0 --device cpu --out $O/self$f
done
$F --dataset utd-mhad --ks 5 --draws 3 --self-train 2 --out $R/fewshot_utd.json
