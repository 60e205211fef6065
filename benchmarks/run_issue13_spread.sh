#!/usr/bin/env bash
# Session of 2026-12-02 (fifth): label spreading for self-training's pseudo labels (ms2l/propagation.py) with
# the velocity encoder runs/pre-vel36 (rebuild it with benchmarks/run_issue13_vel.sh if missing) -- what ran, in order.
#   1. how right the pseudo labels are, classifier against spreading (benchmarks/pseudo_labels.py);
#   2. NW-UCLA 1 % labels, plain and with 2 rounds of self-training on spread pseudo labels;
#   3. NW-UCLA k = 1 with 2 rounds of self-training, pseudo labels by the model and by spreading.
source "$(dirname "$0")/_vel36.sh"
if [ "$STAGE" = all ] || [ "$STAGE" = diag ]; then
  $PY benchmarks/pseudo_labels.py --dataset nw-ucla --encoder $E --draws 5
  $PY benchmarks/pseudo_labels.py --dataset nw-ucla --encoder $E --draws 5 --k 1 --out $R/pseudo_labels_nw-ucla_k1.json
  $PY benchmarks/pseudo_labels.py --dataset utd-mhad --encoder $E --draws 3
fi
if [ "$STAGE" = all ] || [ "$STAGE" = paper ]; then
  # NW-UCLA 1 % labels: plain fine-tune on this build, then 2 rounds of self-training with spread pseudo labels.
  D=../shared/datasets/nw-ucla/all_sqe
  O=runs/paper-vel36
  $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 \
      --seed 0 --device cpu --out $O/plain0.01
  $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 \
      --self-train 2 --pseudo-labels spread --seed 0 --device cpu --out $O/spread0.01
fi
if [ "$STAGE" = all ] || [ "$STAGE" = fewshot ]; then
  # Stage 1 found spreading worth it at one labelled clip per action, not at five: k = 1, both labellers.
  F="$PY benchmarks/fewshot.py --threads 2 --strategies finetune --encoders vel36=$E --self-train 2"
  $F --dataset nw-ucla --ks 1 --draws 5 --pseudo-labels model --out $R/fewshot_nwucla_vel36c.json
  $F --dataset nw-ucla --ks 1 --draws 5 --pseudo-labels spread --out $R/fewshot_nwucla_vel36c.json
fi
