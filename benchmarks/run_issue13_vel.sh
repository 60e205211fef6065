#!/usr/bin/env bash
# Session of 2026-12-02 (third): velocity input (issue 13, item 3) -- what ran, in order.
#   runs/pre-vel36: as runs/pre-pair36 (36 epochs, --pair-views --views tilt,mask,jitter) with --velocity:
#   the GRU reads each frame's joints and their change since the previous frame.
#   benchmarks/run_issue13_vel.sh          # pretraining, then k = 5 on both datasets, then the other k
#   benchmarks/run_issue13_vel.sh paper    # the NW-UCLA paper rows with it
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
S=../shared/datasets
E=runs/pre-vel36/encoder.safetensors
if [ "${1:-}" = paper ]; then
  benchmarks/paper_rows_pool.sh runs/pre-vel36 vel36
  exit
fi
[ -f $E ] || .venv/bin/ms2l pretrain --dataset pool --data $S --out runs/pre-vel36 --epochs 36 --pair-views \
    --views tilt,mask,jitter --velocity
F="$PY benchmarks/fewshot.py --threads 2 --strategies finetune --encoders vel36=$E"
$F --dataset nw-ucla --ks 5 --draws 5 --out $R/fewshot_nwucla.json
$F --dataset utd-mhad --ks 5 --draws 3 --out $R/fewshot_utd.json
$F --dataset nw-ucla --ks 1,3,10 --draws 5 --out $R/fewshot_nwucla.json
$F --dataset utd-mhad --ks 1,3,10 --draws 3 --out $R/fewshot_utd.json
