"""Labelled clip sets, the NW-UCLA protocol and batching."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from pose_adapters.readers import NWUCLA_ACTIONS, SkeletonFileError, read_nwucla

from .augment import Augment, crop
from .config import ModelConfig
from .preprocess import prepare

#: Frame rate this project assumes for the NW-UCLA release (see README, "NW-UCLA frame rate").
NWUCLA_FPS = 15.0
NWUCLA_LABELS: tuple[str, ...] = tuple(NWUCLA_ACTIONS[a] for a in sorted(NWUCLA_ACTIONS))
DATASETS = ("nw-ucla", "ntu60", "ntu120", "pkummd1", "pkummd2")
CACHED = ("ntu60", "ntu120", "pkummd1", "pkummd2")


@dataclass
class ClipSet:
    """Prepared clips ``x[i][T_i, M, V, C]`` with integer labels (-1 = unlabelled)."""

    clips: list[np.ndarray]
    labels: np.ndarray
    label_names: tuple[str, ...]
    names: list[str] = field(default_factory=list)
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.clips)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "ClipSet":
        idx = np.asarray(idx, dtype=int)
        return ClipSet(
            [self.clips[i] for i in idx], self.labels[idx], self.label_names,
            [self.names[i] for i in idx] if self.names else [],
            {k: v[idx] for k, v in self.meta.items()},
        )

    def where(self, mask: np.ndarray) -> "ClipSet":
        return self.subset(np.flatnonzero(mask))


def load_nwucla(data_dir: str | Path, config: ModelConfig, progress: bool = False) -> ClipSet:
    """Every clip of ``data_dir`` (NW-UCLA ``all_sqe``), prepared for ``config``."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no NW-UCLA clips (*.json) in {data_dir}")
    if progress:
        from tqdm import tqdm
        files = tqdm(files, desc="reading NW-UCLA", unit="clip", leave=False)
    clips, labels, names, views, subjects = [], [], [], [], []
    for f in files:
        c = read_nwucla(f)
        x = prepare(c.joints, c.confidence, config, source_fps=NWUCLA_FPS)
        if len(x) == 0:
            raise SkeletonFileError(f, "no frame with a person")
        clips.append(x)
        labels.append(NWUCLA_LABELS.index(c.label_name))
        names.append(c.name)
        views.append(c.view)
        subjects.append(c.subject)
    return ClipSet(clips, np.array(labels), NWUCLA_LABELS, names,
                   {"view": np.array(views), "subject": np.array(subjects)})


def nwucla_split(clips: ClipSet, split: str) -> ClipSet:
    """The standard cross-view protocol: ``train`` = views 1 and 2, ``test`` = view 3.

    ``train1``/``val2`` split the training views once more (view 1 / view 2) for
    choosing settings without touching the test view.
    """
    view = clips.meta["view"]
    masks = {"train": view != 3, "test": view == 3, "train1": view == 1, "val2": view == 2, "all": view > 0}
    if split not in masks:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(masks)}")
    return clips.where(masks[split])


def dataset_config(name: str, base: ModelConfig) -> ModelConfig:
    """The input layout a new model needs for dataset ``name`` (NTU: two persons)."""
    if name in CACHED:
        return base.replace(persons=2)
    if name != "nw-ucla":
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return base


def load_dataset(name: str, data_dir: str | Path, config: ModelConfig, split: str, progress: bool = False,
                 protocol: str | None = None) -> ClipSet:
    """A split of a dataset, prepared for ``config``: NW-UCLA from its JSON folder, NTU from a prepared cache."""
    if name in CACHED:
        from .ntu import load_ntu
        return load_ntu(data_dir, config, split, protocol, progress, dataset=name)
    if name != "nw-ucla":
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if protocol not in (None, "xview"):
        raise ValueError("NW-UCLA has one protocol (train views 1+2, test view 3); drop --protocol")
    return nwucla_split(load_nwucla(data_dir, config, progress), split)


def stratified_fraction(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a seeded, per-class sample of ``fraction`` of the clips (at least one per class)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(idx))))
        out.extend(rng.choice(idx, size=k, replace=False))
    return np.sort(np.array(out, dtype=int))


def per_class_sample(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of ``k`` seeded clips per class (all of a class that has fewer)."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out.extend(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.array(out, dtype=int))


class ClipDataset(Dataset):
    """Clips as training samples: optional augmentation, cropped to ``max_frames``.

    Augmentation draws from a generator seeded by (seed, epoch, clip index), so a
    clip is changed the same way whichever process or worker loads it.
    """

    def __init__(self, clips: ClipSet, max_frames: int, augment: Augment | None = None, seed: int = 0):
        self.clips, self.max_frames, self.augment = clips, max_frames, augment
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        x = self.clips.clips[i]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            x = self.augment(x, rng, self.max_frames)
        else:
            x = crop(x, self.max_frames)
        return x, int(self.clips.labels[i])


def collate(batch: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad to the longest clip: ``x[B, T, M, V, C]``, ``lengths[B]``, ``labels[B]``."""
    lengths = torch.tensor([len(x) for x, _ in batch])
    T = int(lengths.max())
    x = torch.zeros((len(batch), T, *batch[0][0].shape[1:]))
    for i, (c, _) in enumerate(batch):
        x[i, : len(c)] = torch.from_numpy(c)
    return x, lengths, torch.tensor([y for _, y in batch])
