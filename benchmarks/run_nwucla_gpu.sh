#!/usr/bin/env bash
# The NW-UCLA table and the default model on one GPU machine, in one go: three seeds of
# benchmarks/nwucla_table.py in parallel, and the documented default-model commands.
# Usage: benchmarks/run_nwucla_gpu.sh DATA_DIR OUT_DIR
set -u
D=$1; OUT=$2
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" /tmp/ms2l-logs
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
( python3 -m ms2l pretrain --data "$D" --out /tmp/ms2l-default --epochs 40 --seed 0 --device cuda &&
  python3 -m ms2l train --strategy joint --data "$D" --encoder /tmp/ms2l-default/encoder.safetensors \
      --out "$OUT/default.safetensors" --seed 0 --device cuda &&
  python3 -m ms2l train --strategy finetune --data "$D" --encoder /tmp/ms2l-default/encoder.safetensors \
      --out /tmp/ms2l-default/finetune.safetensors --seed 0 --device cuda
  cp /tmp/ms2l-default/summary.json /tmp/ms2l-logs/default-pretrain-summary.json
  cp /tmp/ms2l-default/finetune.json /tmp/ms2l-logs/default-finetune-summary.json ) > /tmp/ms2l-logs/default.log 2>&1 &
for s in 0 1 2; do
  OMP_NUM_THREADS=3 timeout 430 python3 benchmarks/nwucla_table.py --data "$D" --seeds $s --device cuda \
      --per-seed-out /tmp/ms2l-logs/seed$s.json > /tmp/ms2l-logs/seed$s.log 2>&1 &
done
wait
python3 benchmarks/nwucla_table.py --seed-results /tmp/ms2l-logs/seed*.json --out "$OUT/nwucla.json"
tar czf "$OUT/logs.tgz" -C /tmp/ms2l-logs .
tail -n 3 /tmp/ms2l-logs/*.log
