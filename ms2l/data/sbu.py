"""SBU Kinect Interaction: ``s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt``, two persons, 15 fps.

Protocol: 5-fold cross-validation over the 21 actor pairs, ``--protocol fold1`` ..
``fold5`` (default ``fold1``): the fold's pairs are the test split, the other 16-17 pairs
the training split.  The fold table :data:`SBU_FOLDS` is the split used throughout the
SBU literature (Yun et al.'s release documents it; that documentation is not in
../shared, so it is not checked against it here: it is written out in this file, and the
same table appears in independent public SBU loaders).  Both persons are kept
(``ModelConfig.persons = 2``); their order carries no role (docs/datasets.md).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_adapters.readers import SBU_ACTIONS, SbuClip, SkeletonFileError, read_sbu

from ..config import ModelConfig
from ..errors import DatasetError
from ..preprocess import prepare
from .clipset import ClipSet

SBU_LABELS: tuple[str, ...] = SBU_ACTIONS
SBU_PERSONS = 2
#: Actor pairs (folder names) of each fold; fold k is ``SBU_FOLDS[k - 1]``.
SBU_FOLDS: tuple[tuple[str, ...], ...] = (
    ("s01s02", "s03s04", "s05s02", "s06s04"),
    ("s02s03", "s02s07", "s03s05", "s05s03"),
    ("s01s03", "s01s07", "s07s01", "s07s03"),
    ("s02s01", "s02s06", "s03s02", "s03s06"),
    ("s04s02", "s04s03", "s04s06", "s06s02", "s06s03"),
)
PROTOCOLS: tuple[str, ...] = tuple(f"fold{k}" for k in range(1, len(SBU_FOLDS) + 1))
DEFAULT_PROTOCOL = "fold1"
SPLITS = ("train", "test", "all")
_FOLD_OF = {pair: k + 1 for k, pairs in enumerate(SBU_FOLDS) for pair in pairs}


def fold_of(pair: str) -> int:
    """The fold (1-5) whose test split holds actor pair ``pair`` (``"s01s02"``)."""
    if pair not in _FOLD_OF:
        raise DatasetError(f"actor pair {pair} is in no fold of the SBU split (known pairs: {', '.join(sorted(_FOLD_OF))})")
    return _FOLD_OF[pair]


def fold_number(protocol: str | None) -> int:
    """``"fold3"`` -> 3 (None: the default fold)."""
    protocol = protocol or DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise DatasetError(f"SBU protocols are {', '.join(PROTOCOLS)} (5-fold cross-validation over actor pairs), "
                           f"not {protocol!r}")
    return PROTOCOLS.index(protocol) + 1


def fold_mask(folds: np.ndarray, protocol: str | None, split: str) -> np.ndarray:
    """Boolean mask of the takes of ``split`` given each take's fold."""
    k = fold_number(protocol)
    folds = np.asarray(folds)
    masks = {"train": folds != k, "test": folds == k, "all": np.ones(folds.shape, bool)}
    if split not in masks:
        raise DatasetError(f"unknown SBU split {split!r}; choose from {', '.join(SPLITS)}")
    return masks[split]


def sbu_files(data_dir: str | Path, protocol: str | None = None, split: str = "all") -> list[Path]:
    """The ``skeleton_pos.txt`` files of ``split``, sorted (pair taken from the folder name)."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("s[0-9][0-9]s[0-9][0-9]/*/*/skeleton_pos.txt"))
    if not files:
        if not data_dir.is_dir():
            raise FileNotFoundError(f"no SBU folder {data_dir}")
        raise DatasetError(f"no SBU takes (s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt) in {data_dir}")
    folds = np.array([fold_of(f.parts[-4]) for f in files])
    return [f for f, keep in zip(files, fold_mask(folds, protocol, split)) if keep]


def read_sbu_takes(files: list[Path], progress: bool = False) -> list[SbuClip]:
    """Read ``files`` (any bad file raises :class:`SkeletonFileError` naming it and the line)."""
    it = files
    if progress:
        from tqdm import tqdm
        it = tqdm(files, desc="reading SBU", unit="take", leave=False)
    return [read_sbu(f) for f in it]


def pair_name(clip: SbuClip) -> str:
    return f"s{clip.pair[0]:02d}s{clip.pair[1]:02d}"


def load(data_dir: str | Path, config: ModelConfig, split: str, protocol: str | None = None,
         progress: bool = False) -> ClipSet:
    """One split of one fold, prepared for ``config``; meta ``pair`` (folder name), ``fold``, ``take``."""
    clips, labels, names, pairs, folds, takes = [], [], [], [], [], []
    for c in read_sbu_takes(sbu_files(data_dir, protocol, split), progress):
        x = prepare(c.joints, c.confidence, config, source_fps=c.fps)
        if len(x) == 0:
            raise SkeletonFileError(c.name, "no frame with a person")
        clips.append(x)
        labels.append(c.label - 1)
        names.append(c.name)
        pairs.append(pair_name(c))
        folds.append(fold_of(pair_name(c)))
        takes.append(c.take)
    return ClipSet(clips, np.array(labels, dtype=int), SBU_LABELS, names,
                   {"pair": np.array(pairs, dtype=str), "fold": np.array(folds, dtype=int),
                    "take": np.array(takes, dtype=int)})
