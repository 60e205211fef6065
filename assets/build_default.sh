#!/usr/bin/env bash
# Rebuild the shipped default model (assets/default.safetensors) from NW-UCLA.
# Usage: assets/build_default.sh [DATA_DIR] [DEVICE]   (defaults: ../shared/datasets/nw-ucla/all_sqe, auto)
# About 20 min on an H200 share, about 1.5 h on a 2-core CPU.
set -euo pipefail
DATA=${1:-../shared/datasets/nw-ucla/all_sqe}
DEVICE=${2:-auto}
ms2l pretrain --data "$DATA" --out runs/default-pretrain --epochs 40 --seed 0 --device "$DEVICE"
ms2l train --strategy joint --data "$DATA" --encoder runs/default-pretrain/encoder.safetensors \
    --out runs/default/default.safetensors --seed 0 --device "$DEVICE"
cp runs/default/default.safetensors assets/default.safetensors
python -c "from ms2l.checkpoint import read_metadata; from ms2l.card import model_card; \
print(model_card(read_metadata('assets/default.safetensors'), 'ms2l-live default model'))" > assets/MODEL_CARD.md
