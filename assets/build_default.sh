#!/usr/bin/env bash
# Rebuild the shipped default model (assets/default.safetensors): a person in front of a webcam.
# MS²L pretraining on the unlabelled pool (every labelled set's training split, SBU, CMU, NTU and BVH
# samples), then fine-tuning on UTD-MHAD's 27 actions and NW-UCLA's 10 together (labels merged where
# they mean the same: ms2l/data/merge.py), with the open-set rejection calibrated and measured on
# other motion (CMU takes, SBU interactions).
# Usage: assets/build_default.sh [SHARED_DATASETS] [DEVICE]   (defaults: ../shared/datasets, auto)
set -euo pipefail
D=${1:-../shared/datasets}
DEVICE=${2:-auto}
# Pretraining with pair views, 36 epochs (2026-12-02; 49 min on the 2-core CPU): the best few-shot
# encoder here (benchmarks/results/fewshot.md), and a default model that rejects more other motion.
ms2l pretrain --dataset pool --data "$D" --out runs/pre-pair36 --epochs 36 --pair-views --views tilt,mask,jitter \
    --seed 0 --device "$DEVICE"
ms2l train --strategy finetune --dataset nw-ucla+utd-mhad --data "$D/nw-ucla/all_sqe,$D/utd-mhad/Skeleton" \
    --encoder runs/pre-pair36/encoder.safetensors --epochs 40 --seed 0 --device "$DEVICE" \
    --negatives cmu,sbu --negatives-data "$D/cmu-mocap-bvh,$D/sbu-kinect-interaction" --out runs/default/default
for ds in "utd-mhad $D/utd-mhad/Skeleton" "nw-ucla $D/nw-ucla/all_sqe"; do
    set -- $ds
    ms2l evaluate --model runs/default/default --dataset "$1" --data "$2" --split test --json --out "runs/default/test-$1.json"
done
cp runs/default/default.safetensors assets/default.safetensors
python assets/write_card.py assets/default.safetensors runs/default/test-utd-mhad.json runs/default/test-nw-ucla.json \
    > assets/MODEL_CARD.md
