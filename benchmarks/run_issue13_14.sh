#!/usr/bin/env bash
# The few-shot and open-set figures of issues 13 and 14, in order, on this 2-core CPU (about an hour).
# Encoders: runs/pre-pool (MS²L on the whole unlabelled pool), runs/pre-nwucla (NW-UCLA only),
# a random one, the NW-UCLA-only shipped model (assets/nwucla) and the webcam default (assets/default).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
POOL=pool=runs/pre-pool/encoder.safetensors
NWU=nwucla-ssl=runs/pre-nwucla/encoder.safetensors
R=benchmarks/results
# NW-UCLA, k = 1, 3, 5, 10
$PY benchmarks/fewshot.py --dataset nw-ucla --encoders $POOL,scratch --strategies finetune,prototype --draws 5 --out $R/fewshot_nwucla.json
$PY benchmarks/fewshot.py --dataset nw-ucla --encoders $POOL --strategies linear --draws 5 --out $R/fewshot_nwucla.json
$PY benchmarks/fewshot.py --dataset nw-ucla --encoders $NWU,nwucla-model=nwucla --strategies finetune,prototype --draws 3 --out $R/fewshot_nwucla.json
# the view ablation: pool encoder, fine-tune, k = 5
for v in tilt jitter dropout mask mirror; do
  $PY benchmarks/fewshot.py --dataset nw-ucla --encoders $POOL --strategies finetune --ks 5 --draws 3 --views $v --out $R/fewshot_nwucla.json
done
# UTD-MHAD cross-subject
$PY benchmarks/fewshot.py --dataset utd-mhad --encoders $POOL,scratch --strategies finetune,prototype --draws 5 --out $R/fewshot_utd.json
$PY benchmarks/fewshot.py --dataset utd-mhad --encoders $NWU,default=default --strategies finetune,prototype --draws 3 --out $R/fewshot_utd.json
# open set (leave-classes-out, through the streaming runtime) and the shipped model on the shared videos
$PY benchmarks/openset.py --encoder runs/pre-pool/encoder.safetensors --stream --videos default --out $R/openset.json
