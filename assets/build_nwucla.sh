#!/usr/bin/env bash
# Rebuild the NW-UCLA-only model (the default before the webcam model; the paper table) (assets/nwucla.safetensors) from NW-UCLA.
# Usage: assets/build_nwucla.sh [DATA_DIR] [DEVICE]   (defaults: ../shared/datasets/nw-ucla/all_sqe, auto)
# About 20 min on an H200 share, about 1.5 h on a 2-core CPU.
set -euo pipefail
DATA=${1:-../shared/datasets/nw-ucla/all_sqe}
DEVICE=${2:-auto}
ms2l pretrain --data "$DATA" --out runs/nwucla-pretrain --epochs 40 --seed 0 --device "$DEVICE"
ms2l train --strategy joint --data "$DATA" --encoder runs/nwucla-pretrain/encoder.safetensors \
    --out runs/nwucla/default.safetensors --seed 0 --device "$DEVICE"
cp runs/nwucla/default.safetensors assets/nwucla.safetensors
python -c "from ms2l.checkpoint import read_metadata; from ms2l.card import model_card; \
print(model_card(read_metadata('assets/nwucla.safetensors'), 'ms2l-live NW-UCLA model'))" > assets/nwucla.md
