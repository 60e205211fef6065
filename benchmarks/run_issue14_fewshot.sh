#!/usr/bin/env bash
# Session of 2026-12-04: "none of these" for a model taught from a handful of clips (the app's case), and
# the rejection threshold set by cross-validation (the clips each fold model held out) against leave-one-out.
#   benchmarks/run_issue14_fewshot.sh     # 3 clips per known action (also streamed), then 2; both datasets, 3 folds
# Needs runs/pre-vel36/encoder.safetensors (benchmarks/run_issue13_vel.sh builds it, about 70 min).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
E=runs/pre-vel36/encoder.safetensors
[ -f $E ] || { echo "no $E: build it with benchmarks/run_issue13_vel.sh first" >&2; exit 2; }
# (streamed with the live window of the time, the 90th percentile of clip lengths; ms2l.preprocess.WINDOW_PERCENTILE
# is 100 since the second session of 2026-12-04, so a rerun streams with the longer window)
$PY benchmarks/openset_fewshot.py --encoder $E --shots 3 --stream --out benchmarks/results/openset_fewshot.json
$PY benchmarks/openset_fewshot.py --encoder $E --shots 2 --out benchmarks/results/openset_fewshot_k2.json
# Three draws of the training clips per fold (clip level), to tell the thresholds apart beyond one draw's noise.
$PY benchmarks/openset_fewshot.py --encoder $E --shots 3,2 --draws 3 --out benchmarks/results/openset_fewshot_draws.json
