#!/usr/bin/env bash
# Session of 2026-12-04 (second): how the rejection threshold is estimated from a handful of held-out scores
# (empirical 95 % quantile, Harrell-Davis, log-normal fit), and the threshold set on people the model never
# saw (subject-grouped cross-validation) for models trained on whole datasets.
#   benchmarks/run_issue14_quantile.sh        # about 28 + 26 + 3 + 8 + 8 min on the 2-core CPU
# Needs runs/pre-vel36/encoder.safetensors (benchmarks/run_issue13_vel.sh builds it, about 70 min).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
E=runs/pre-vel36/encoder.safetensors
[ -f $E ] || { echo "no $E: build it with benchmarks/run_issue13_vel.sh first" >&2; exit 2; }
# Whole training splits, 3 folds of unknown actions, streamed (with the live window of the time, the 90th
# percentile); thresholds leave-one-out and by 4 subject folds.
$PY benchmarks/openset.py --encoder $E --datasets utd-mhad,nw-ucla --stream --subject-folds 4 --window-percentile 90 \
    --out benchmarks/results/openset_subjectcv.json
# 2 and 3 clips per known action, 3 draws per fold (the same draws as openset_fewshot_draws.json), raw scores kept.
$PY benchmarks/openset_fewshot.py --encoder $E --shots 3,2 --draws 3 --out benchmarks/results/openset_fewshot_estimators.json
# The live window spanning every training clip (the 90th percentile's run is the UTD-MHAD half of the first command).
$PY benchmarks/openset.py --encoder $E --datasets utd-mhad --stream --window-percentile 100 \
    --out benchmarks/results/openset_window100.json
# Both on UTD-MHAD, and the app's few-clip models (3 clips per action, streamed) with the new window.
$PY benchmarks/openset.py --encoder $E --datasets utd-mhad --stream --subject-folds 4 \
    --out benchmarks/results/openset_subjectcv_window100.json
$PY benchmarks/openset_fewshot.py --encoder $E --shots 3 --stream --out benchmarks/results/openset_fewshot_window100.json
