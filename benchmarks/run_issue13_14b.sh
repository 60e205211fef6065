#!/usr/bin/env bash
# What the session had CPU time left for, in priority order (run_issue13_14.sh is the full set).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
POOL=pool=runs/pre-pool/encoder.safetensors
NWU=nwucla-ssl=runs/pre-nwucla/encoder.safetensors
R=benchmarks/results
$PY benchmarks/openset.py --encoder runs/pre-pool/encoder.safetensors --stream --videos default --out $R/openset.json
$PY benchmarks/fewshot.py --dataset utd-mhad --encoders $POOL,scratch --strategies finetune,prototype --draws 3 --out $R/fewshot_utd.json
for v in tilt jitter dropout mask mirror; do
  $PY benchmarks/fewshot.py --dataset nw-ucla --encoders $POOL --strategies finetune --ks 5 --draws 3 --views $v --out $R/fewshot_nwucla.json
done
$PY benchmarks/fewshot.py --dataset nw-ucla --encoders $NWU,default=default --strategies finetune --ks 5 --draws 3 --out $R/fewshot_nwucla.json
$PY benchmarks/fewshot.py --dataset utd-mhad --encoders $NWU,default=default --strategies finetune --ks 5 --draws 3 --out $R/fewshot_utd.json
