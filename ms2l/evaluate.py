"""Evaluation of whole clips: class probabilities, top-1, per-class accuracy and confusion."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .data.clipset import ClipDataset, ClipSet, collate
from .errors import ModelFileError
from .model import MS2L


@torch.no_grad()
def predict(model: MS2L, clips: ClipSet, device: torch.device, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``[N, num_classes]`` of whole clips, in order."""
    model.eval().to(device)
    loader = DataLoader(ClipDataset(clips, 10**9), batch_size=batch_size, shuffle=False, collate_fn=collate)
    return torch.cat([model(x.to(device), l.to(device)).float().softmax(-1).cpu() for x, l, _ in loader]).numpy()


def _few(names: tuple[str, ...], k: int = 4) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return f"{len(names)}: {shown}" + (f", ... and {len(names) - k} more" if len(names) > k else "")


def label_mismatch(model_labels: tuple[str, ...], data_labels: tuple[str, ...], data: str = "the data") -> ModelFileError:
    """The error for a model asked to score clips of other labels; names a few labels of each side."""
    hint = f"; evaluate a model trained on {data} (ms2l train --dataset {data} ...)" if data != "the data" else ""
    return ModelFileError(f"model labels ({_few(tuple(model_labels))}) do not match the labels of {data} "
                          f"({_few(tuple(data_labels))}){hint}")


def evaluate(model: MS2L, clips: ClipSet, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Top-1 %, count, per-class top-1 % and the confusion matrix (rows: truth)."""
    names = model.config.labels
    if tuple(clips.label_names) == tuple(names):
        return score(clips.labels, predict(model, clips, torch.device(device)).argmax(1), names)
    # A model trained on merged datasets knows every label of this one (maybe under its merged name):
    # score it over all its labels, so that naming a class this dataset lacks counts as wrong.
    from .data.merge import label_map

    idx = label_map(clips.label_names, names)
    if idx is None:
        raise label_mismatch(names, clips.label_names)
    pred = predict(model, clips, torch.device(device)).argmax(1)
    result = score(idx[clips.labels], pred, names)
    per = result["per_class"]
    result["per_class"] = {n: per[names[i]] for n, i in zip(clips.label_names, idx)}
    result["label_map"] = {n: names[i] for n, i in zip(clips.label_names, idx) if n != names[i]}
    result["model_labels"] = len(names)
    return result


def score(y: np.ndarray, pred: np.ndarray, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Top-1 %, count, per-class top-1 % and the confusion matrix (rows: truth) of ``pred`` against ``y``."""
    y, pred = np.asarray(y, int), np.asarray(pred, int)
    k = len(names)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, pred), 1)
    per_class = {names[c]: (100.0 * cm[c, c] / cm[c].sum() if cm[c].sum() else None) for c in range(k)}
    return {"top1": 100.0 * float((pred == y).mean()) if len(y) else math.nan, "n": int(len(y)),
            "per_class": per_class, "confusion": cm.tolist()}
