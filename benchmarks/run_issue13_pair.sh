#!/usr/bin/env bash
# Session of 2026-12-02: pair views in pretraining (issue 13, item 3), what ran, in order.
#   runs/pre-pair : MS²L on the pool, 12 epochs, --pair-views --views tilt,mask,jitter
#   runs/pre-pair0: the same, --pair-views and no extra views (ablation)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
STAGE=${1:-eval}
if [ "$STAGE" = pretrain ]; then
  .venv/bin/ms2l pretrain --dataset pool --data ../shared/datasets --out runs/pre-pair --epochs 12 --pair-views --views tilt,mask,jitter
  .venv/bin/ms2l pretrain --dataset pool --data ../shared/datasets --out runs/pre-pair0 --epochs 12 --pair-views
  exit
fi
for enc in "$@"; do :; done
PAIR=pair=runs/pre-pair/encoder.safetensors
$PY benchmarks/fewshot.py --dataset nw-ucla --encoders $PAIR --strategies finetune --ks 5 --draws 5 --out $R/fewshot_nwucla.json
$PY benchmarks/fewshot.py --dataset utd-mhad --encoders $PAIR --strategies finetune --ks 5 --draws 3 --out $R/fewshot_utd.json
