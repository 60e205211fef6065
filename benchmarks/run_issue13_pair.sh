#!/usr/bin/env bash
# Session of 2026-12-02: pair views in pretraining (issue 13, item 3) -- what ran, in order.
#   runs/pre-pair      : MS²L on the pool, 12 epochs, --pair-views --views tilt,mask,jitter
#   runs/pre-pair0     : the same with --pair-views only (ablation of the spatial views)
#   runs/pre-pair-nosbu: as pre-pair on a pool without SBU (an encoder fair for SBU's 5 folds)
#   benchmarks/run_issue13_pair.sh pretrain   # the three pretrainings (about 20 min each here)
#   benchmarks/run_issue13_pair.sh            # the evaluations (1 torch thread each)
#   benchmarks/run_issue13_pair.sh pair36     # later that day: 36 epochs, its evaluations, SBU with swap
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=benchmarks/results
S=../shared/datasets
if [ "${1:-}" = pretrain ]; then
  .venv/bin/ms2l pretrain --dataset pool --data $S --out runs/pre-pair --epochs 12 --pair-views --views tilt,mask,jitter
  .venv/bin/ms2l pretrain --dataset pool --data $S --out runs/pre-pair0 --epochs 12 --pair-views
  .venv/bin/ms2l pretrain --dataset nw-ucla,utd-mhad,cmu,ntu-samples,bvh-samples \
      --data $S/nw-ucla/all_sqe,$S/utd-mhad/Skeleton,$S/cmu-mocap-bvh,$S/ntu-samples,$S/bvh-samples \
      --out runs/pre-pair-nosbu --epochs 12 --pair-views --views tilt,mask,jitter
  exit
fi
if [ "${1:-}" = pair36 ]; then
  E=runs/pre-pair36/encoder.safetensors
  .venv/bin/ms2l pretrain --dataset pool --data $S --out runs/pre-pair36 --epochs 36 --pair-views --views tilt,mask,jitter
  F="$PY benchmarks/fewshot.py --threads 2 --strategies finetune --encoders pair36=$E"
  $F --dataset nw-ucla --ks 1,3,5,10 --draws 5 --out $R/fewshot_nwucla.json
  $F --dataset utd-mhad --ks 1,3,5,10 --draws 3 --out $R/fewshot_utd.json
  $PY benchmarks/openset.py --threads 2 --encoder $E --out $R/openset_ssl.json
  $PY benchmarks/openset.py --threads 2 --encoder $E --stream --videos default --out $R/openset_pair36.json
  $PY benchmarks/openset_crossdata.py --threads 1
  benchmarks/paper_rows_pool.sh runs/pre-pair36 pair36
  $PY benchmarks/sbu_folds.py --strategy scratch --epochs 100 --extra "--views mirror,tilt,mask,jitter,swap" \
      --out $R/sbu_swap.json --runs runs/sbu_swap
  $PY benchmarks/sbu_folds.py --strategy scratch --epochs 100 --extra "--views mirror,tilt,mask,jitter --dropout 0.3" \
      --out $R/sbu_d3.json --runs runs/sbu_d3
  $PY benchmarks/multiperson_latency.py --configs 1,3,3:1,3:2 --infer-flags '--every-k 3' --out $R/multiperson_latency_auto
  $PY benchmarks/multiperson.py --configs auto-3,full-3 --out $R/multiperson_auto
  exit
fi
if [ "${1:-}" = sbu ]; then
  $PY benchmarks/sbu_folds.py --strategy finetune --epochs 60 \
      --extra "--encoder runs/pre-pair-nosbu/encoder.safetensors --views mirror,tilt" \
      --out $R/sbu_pretrained.json --runs runs/sbu-pretrained
  exit
fi
FS="$PY benchmarks/fewshot.py --threads 1 --strategies finetune"
PAIR=pair=runs/pre-pair/encoder.safetensors
PAIR0=pair-no-views=runs/pre-pair0/encoder.safetensors
$FS --dataset nw-ucla --encoders $PAIR --ks 5 --draws 5 --out $R/fewshot_nwucla.json
$FS --dataset utd-mhad --encoders $PAIR --ks 5 --draws 3 --out $R/fewshot_utd.json
$FS --dataset nw-ucla --encoders $PAIR0 --ks 5 --draws 5 --out $R/fewshot_nwucla.json
$FS --dataset utd-mhad --encoders $PAIR0 --ks 5 --draws 3 --out $R/fewshot_utd.json
$FS --dataset nw-ucla --encoders $PAIR --ks 5 --draws 5 --views mirror --out $R/fewshot_nwucla.json
$FS --dataset utd-mhad --encoders $PAIR --ks 5 --draws 3 --views mirror --out $R/fewshot_utd.json
$FS --dataset nw-ucla --encoders $PAIR --ks 1,3,10 --draws 5 --out $R/fewshot_nwucla.json
$FS --dataset utd-mhad --encoders $PAIR --ks 1,3,10 --draws 3 --out $R/fewshot_utd.json
OMP_NUM_THREADS=1 benchmarks/paper_rows_pool.sh runs/pre-pair pair
$PY benchmarks/openset.py --threads 1 --encoder runs/pre-pair/encoder.safetensors --stream --videos default \
    --out $R/openset.json
