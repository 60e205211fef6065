#!/usr/bin/env bash
# Session of 2026-12-03: what ran, in order, with the velocity encoder runs/pre-vel36
# (rebuilt first with the command in benchmarks/run_issue13_vel.sh).
#   1. linear evaluation: features and fits, chosen on view 1 -> view 2 (benchmarks/linear_probe.py);
#   2. open set, clip level, with the Mahalanobis + cosine score added (benchmarks/openset.py);
#   3. NW-UCLA 1 % labels at seed 2 (and, last, seed 3), plain and with self-training on spread pseudo labels;
#   4. mean+max pooling through the product: the fine-tune recipe at k = 5 (view 1 -> view 2), the paper's
#      linear row with and without it, and the open-set folds with it.
source "$(dirname "$0")/_vel36.sh"
if [ "$STAGE" = all ] || [ "$STAGE" = linear ]; then
  $PY benchmarks/linear_probe.py --encoder $E --out $R/linear_probe.json
fi
if [ "$STAGE" = all ] || [ "$STAGE" = openset ]; then
  $PY benchmarks/openset.py --encoder $E --out $R/openset_vel36b.json
fi
one_percent() {  # NW-UCLA 1 % labels at seed $1: plain, then 2 rounds of self-training on spread pseudo labels
  local D=../shared/datasets/nw-ucla/all_sqe O=runs/paper-vel36
  $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 \
      --seed $1 --device cpu --out $O/plain0.01s$1
  $PY -m ms2l train --strategy finetune --dataset nw-ucla --data $D --encoder $E --label-fraction 0.01 \
      --self-train 2 --pseudo-labels spread --seed $1 --device cpu --out $O/spread0.01s$1
}
if [ "$STAGE" = all ] || [ "$STAGE" = seed2 ]; then one_percent 2; fi
if [ "$STAGE" = all ] || [ "$STAGE" = pooling ]; then
  D=../shared/datasets/nw-ucla/all_sqe
  O=runs/paper-vel36
  $PY benchmarks/fewshot_recipe.py --encoder $E --variants base,meanmax --out $R/fewshot_recipe_vel36.json
  $PY -m ms2l train --strategy linear --dataset nw-ucla --data $D --encoder $E --seed 0 --device cpu \
      --pooling mean+max --out $O/linear_meanmax
  $PY -m ms2l train --strategy linear --dataset nw-ucla --data $D --encoder $E --seed 0 --device cpu --out $O/linear_mean
  $PY benchmarks/openset.py --encoder $E --pooling mean+max --out $R/openset_vel36_meanmax.json
fi
if [ "$STAGE" = all ] || [ "$STAGE" = seed3 ]; then one_percent 3; fi  # run last, alone on the CPU
