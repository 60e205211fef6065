#!/usr/bin/env bash
# Session of 2026-12-03 (third): does pretraining longer pay? runs/pre-vel60 continues runs/pre-vel36 (36 epochs)
# for 24 more epochs with a fresh cosine schedule from lr 5e-4 (`ms2l pretrain --init`, a warm restart), same pool,
# views and velocity input, seed 1. Each row is paired with the same run on runs/pre-vel36, the encoder it started from.
#   benchmarks/run_issue13_14e.sh pretrain   # the continuation (about 55 min on the 2-core CPU)
#   benchmarks/run_issue13_14e.sh k5         # k = 5 fine-tune, NW-UCLA view 3 (5 draws) and UTD-MHAD (3 draws)
#   benchmarks/run_issue13_14e.sh paper      # NW-UCLA linear (mean+max pooling) and 10 % rows, both encoders
#   benchmarks/run_issue13_14e.sh openset    # leave-classes-out, clip level
#   benchmarks/run_issue13_14e.sh self       # k = 5 NW-UCLA with self-training on the longer-pretrained encoder
#   benchmarks/run_issue13_14e.sh stream     # leave-classes-out through the streaming runtime
source "$(dirname "$0")/_vel36.sh"
E60=runs/pre-vel60/encoder.safetensors
D=../shared/datasets/nw-ucla/all_sqe
if [ "$STAGE" = pretrain ]; then
  .venv/bin/ms2l pretrain --dataset pool --data ../shared/datasets --out runs/pre-vel60 --epochs 24 --lr 5e-4 \
      --pair-views --views tilt,mask,jitter --velocity --seed 1 --init $E
fi
[ -f $E60 ] || { echo "no $E60: run '$0 pretrain' first" >&2; exit 2; }
if [ "$STAGE" = all ] || [ "$STAGE" = k5 ]; then
  for ds in nw-ucla:fewshot_nwucla_vel60:5 utd-mhad:fewshot_utd_vel60:3; do
    IFS=: read -r d f n <<< "$ds"
    $PY benchmarks/fewshot.py --dataset $d --encoders vel36=$E,vel60=$E60 --strategies finetune --ks 5 --draws $n \
        --out $R/$f.json
  done
fi
if [ "$STAGE" = all ] || [ "$STAGE" = paper ]; then
  for enc in vel36:$E vel60:$E60; do
    IFS=: read -r name path <<< "$enc"
    $PY -m ms2l train --strategy linear --pooling mean+max --dataset nw-ucla --data $D --encoder $path --seed 0 \
        --device cpu --out runs/paper-$name/linear-meanmax
    $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $path --label-fraction 0.1 --seed 0 \
        --device cpu --out runs/paper-$name/semi10
  done
fi
if [ "$STAGE" = all ] || [ "$STAGE" = openset ]; then
  $PY benchmarks/openset.py --encoder $E60 --out $R/openset_vel60.json
fi
if [ "$STAGE" = all ] || [ "$STAGE" = self ]; then
  # k = 5 with two rounds of self-training on the unlabelled rest of NW-UCLA's training split (vel36: 62.24, fourth
  # session's build).
  $PY benchmarks/fewshot.py --dataset nw-ucla --encoders vel60=$E60 --strategies finetune --ks 5 --draws 5 \
      --self-train 2 --out $R/fewshot_nwucla_vel60.json
fi
if [ "$STAGE" = stream ]; then
  # The issue's goal lines are streaming ones: the same folds through the live runtime on the longer encoder.
  $PY benchmarks/openset.py --encoder $E60 --stream --out $R/openset_vel60_stream.json
fi
