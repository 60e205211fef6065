"""Labelled clip sets, per-class sampling and batching (no dataset-specific code)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..augment import Augment, crop
from ..errors import ConfigError


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


def stratified_fraction(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a seeded, per-class sample of ``fraction`` of the clips (at least one per class)."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"label fraction must be in (0, 1], got {fraction}")
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
    clip is changed the same way whichever process or worker loads it.  With ``pairs``
    a sample is two independent augmentations of the clip (see :func:`collate_pairs`).
    """

    def __init__(self, clips: ClipSet, max_frames: int, augment: Augment | None = None, seed: int = 0,
                 pairs: bool = False):
        if pairs and augment is None:
            raise ConfigError("pair views need augmentation: two unaugmented copies of a clip are the same")
        self.clips, self.max_frames, self.augment, self.pairs = clips, max_frames, augment, pairs
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int] | tuple[np.ndarray, np.ndarray, int]:
        x = self.clips.clips[i]
        y = int(self.clips.labels[i])
        if self.augment is None:
            return crop(x, self.max_frames), y
        first = self.augment(x, np.random.default_rng([self.seed, self.epoch, int(i)]), self.max_frames)
        if not self.pairs:
            return first, y
        second = self.augment(x, np.random.default_rng([self.seed, self.epoch, int(i), 1]), self.max_frames)
        return first, second, y


def collate(batch: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad to the longest clip: ``x[B, T, M, V, C]``, ``lengths[B]``, ``labels[B]``."""
    lengths = torch.tensor([len(x) for x, _ in batch])
    T = int(lengths.max())
    x = torch.zeros((len(batch), T, *batch[0][0].shape[1:]))
    for i, (c, _) in enumerate(batch):
        x[i, : len(c)] = torch.from_numpy(c)
    return x, lengths, torch.tensor([y for _, y in batch])


def collate_pairs(batch: list[tuple[np.ndarray, np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two views per clip as one padded batch: ``x[2B, T, M, V, C]`` and ``lengths[2B]`` (rows ``[:B]``
    the first views, ``[B:]`` the second), ``labels[B]``."""
    x, lengths, y = collate([(a, y) for a, _, y in batch] + [(b, y) for _, b, y in batch])
    return x, lengths, y[: len(batch)]
