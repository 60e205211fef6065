#!/usr/bin/env bash
# Session of 2026-12-02 (fifth): label spreading for self-training's pseudo labels (ms2l/propagation.py) with
# the velocity encoder runs/pre-vel36 (rebuild it with benchmarks/run_issue13_vel.sh if missing) -- what ran, in order.
#   1. how right the pseudo labels are, classifier against spreading (benchmarks/pseudo_labels.py);
#   2. k = 5 few-shot with 2 rounds of self-training, pseudo labels by spreading.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
E=runs/pre-vel36/encoder.safetensors
[ -f $E ] || { echo "no $E: run benchmarks/run_issue13_vel.sh first" >&2; exit 2; }
STAGE=${1:-all}
if [ "$STAGE" = all ] || [ "$STAGE" = diag ]; then
  $PY benchmarks/pseudo_labels.py --dataset nw-ucla --encoder $E --draws 5
  $PY benchmarks/pseudo_labels.py --dataset nw-ucla --encoder $E --draws 5 --k 1 --out $R/pseudo_labels_nw-ucla_k1.json
  $PY benchmarks/pseudo_labels.py --dataset utd-mhad --encoder $E --draws 3
fi
if [ "$STAGE" = all ] || [ "$STAGE" = fewshot ]; then
  F="$PY benchmarks/fewshot.py --threads 2 --strategies finetune --encoders vel36=$E --self-train 2 --pseudo-labels spread"
  $F --dataset nw-ucla --ks 5 --draws 5 --out $R/fewshot_nwucla.json
  $F --dataset utd-mhad --ks 5 --draws 3 --out $R/fewshot_utd.json
fi
