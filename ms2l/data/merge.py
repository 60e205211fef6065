"""Training on several labelled datasets at once, with labels merged where they mean the same.

``--dataset nw-ucla+utd-mhad --data DIR1,DIR2`` loads each dataset's split and
concatenates them; a label is renamed by :data:`ALIASES` when another dataset
already has the same action under another name, so the merged model has one class
for it.  Evaluating such a model on one of the datasets maps that dataset's labels
the same way (:func:`label_map`), and a prediction of a class the dataset does not
have counts as wrong.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DatasetError
from .clipset import ClipSet

#: Labels that name the same action in different datasets -> the one name used.
#: Checked on the data: UTD-MHAD "sit to stand"/"stand to sit" are NW-UCLA's "stand up"/"sit down"
#: seen from the front; UTD's "right-arm throw" is NW-UCLA's "throw" (always the right arm there too).
ALIASES: dict[str, str] = {
    "sit to stand": "stand up",
    "stand to sit": "sit down",
    "right-arm throw": "throw",
}


def canonical(label: str) -> str:
    return ALIASES.get(label, label)


def merge_clipsets(parts: Sequence[tuple[str, ClipSet]]) -> ClipSet:
    """One ClipSet of every part's clips; labels merged (first appearance order), ``meta["dataset"]`` says whose
    and, when every part knows its people, ``meta["subject"]`` who (``"utd-mhad:3"``: numbers are per dataset)."""
    names: list[str] = []
    for _, cs in parts:
        for n in cs.label_names:
            c = canonical(n)
            if c not in names:
                names.append(c)
    clips: list[np.ndarray] = []
    labels: list[int] = []
    clip_names: list[str] = []
    dataset: list[str] = []
    for ds, cs in parts:
        idx = np.array([names.index(canonical(n)) for n in cs.label_names], int)
        clips += list(cs.clips)
        labels += [int(idx[y]) if y >= 0 else -1 for y in cs.labels]
        clip_names += [f"{ds}:{n}" for n in (cs.names or [str(i) for i in range(len(cs))])]
        dataset += [ds] * len(cs)
    meta = {"dataset": np.array(dataset)}
    if all("subject" in cs.meta for _, cs in parts):
        meta["subject"] = np.array([f"{ds}:{x}" for ds, cs in parts for x in cs.meta["subject"]])
    return ClipSet(clips, np.array(labels, int), tuple(names), clip_names, meta)


def label_map(data_labels: Sequence[str], model_labels: Sequence[str]) -> np.ndarray | None:
    """Index in ``model_labels`` of each data label (through :data:`ALIASES`), or None if one is missing."""
    model_labels = list(model_labels)
    out = []
    for n in data_labels:
        for cand in (n, canonical(n)):
            if cand in model_labels:
                out.append(model_labels.index(cand))
                break
        else:
            return None
    return np.array(out, int)


def split_names(name: str) -> list[str]:
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if len(parts) < 2:
        raise DatasetError(f"{name!r} is not a combination of datasets (write them as a+b)")
    return parts
