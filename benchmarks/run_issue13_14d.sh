#!/usr/bin/env bash
# Session of 2026-12-03 (second): with the velocity encoder runs/pre-vel36 (rebuilt first with the
# command in benchmarks/run_issue13_vel.sh), in order:
#   1. the fine-tune recipe at k = 5 on NW-UCLA view 1 -> view 2 (validation): a cosine classifier head,
#      three fine-tunes averaged into one model (a weight soup, ms2l/soup.py);
#   2. the same changes on the test splits at k = 5 (NW-UCLA view 3, 5 draws; UTD-MHAD cross-subject, 3 draws),
#      paired with the plain fine-tune rows already in fewshot_*_vel36b.json.
#   3. open set through the streaming runtime, with three readings of a stream's novelty (last window,
#      mean over windows, the smoother's);
source "$(dirname "$0")/_vel36.sh"
if [ "$STAGE" = all ] || [ "$STAGE" = recipe ]; then
  $PY benchmarks/fewshot_recipe.py --encoder $E --variants base,cosine,soup3 --out $R/fewshot_recipe_vel36.json
fi
if [ "$STAGE" = all ] || [ "$STAGE" = test ]; then
  for ds in nw-ucla:fewshot_nwucla_vel36b:5 utd-mhad:fewshot_utd_vel36b:3; do
    IFS=: read -r d f n <<< "$ds"
    for extra in "--head cosine" "--models 3 --combine weights"; do
      $PY benchmarks/fewshot.py --dataset $d --encoders vel36=$E --strategies finetune --ks 5 --draws $n \
          $extra --out $R/$f.json
    done
  done
fi
if [ "$STAGE" = all ] || [ "$STAGE" = stream ]; then
  $PY benchmarks/openset.py --encoder $E --stream --out $R/openset_vel36_stream2.json
fi
