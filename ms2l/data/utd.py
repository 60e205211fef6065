"""UTD-MHAD: a folder of ``a<A>_s<S>_t<T>_skeleton.mat`` clips; cross-subject, odd subjects train.

The usual protocol (Chen, Jafari and Kehtarnavaz, ICIP 2015): subjects 1, 3, 5, 7 train,
2, 4, 6, 8 test.  Clips are recorded at about 30 fps and resampled by ``prepare()`` to the
model's rate.  Splits are chosen from the file names, so a split reads only its own files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_adapters.readers import UTD_ACTIONS, SkeletonFileError, UtdClip, parse_utd_name, read_utd
from pose_adapters.readers.utd import UTD_FPS

from ..config import ModelConfig
from ..errors import DatasetError
from ..preprocess import prepare
from .clipset import ClipSet

UTD_LABELS: tuple[str, ...] = UTD_ACTIONS
TRAIN_SUBJECTS: frozenset[int] = frozenset({1, 3, 5, 7})
TEST_SUBJECTS: frozenset[int] = frozenset({2, 4, 6, 8})
SPLITS = ("train", "test", "all")


def subject_mask(subject: np.ndarray, split: str) -> np.ndarray:
    """Boolean mask of the clips of ``split`` given each clip's subject number."""
    subject = np.asarray(subject)
    masks = {"train": np.isin(subject, sorted(TRAIN_SUBJECTS)), "test": np.isin(subject, sorted(TEST_SUBJECTS)),
             "all": np.ones(subject.shape, bool)}
    if split not in masks:
        raise DatasetError(f"unknown UTD-MHAD split {split!r}; choose from {', '.join(SPLITS)}")
    return masks[split]


def utd_files(data_dir: str | Path, split: str = "all") -> list[Path]:
    """The ``.mat`` files of ``split``, sorted (subject taken from the file name)."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("a*_s*_t*_skeleton.mat"))
    if not files:
        if not data_dir.is_dir():
            raise FileNotFoundError(f"no UTD-MHAD folder {data_dir}")
        raise DatasetError(f"no UTD-MHAD clips (a<A>_s<S>_t<T>_skeleton.mat) in {data_dir}; "
                           "--data is the dataset's Skeleton folder")
    subjects = np.array([parse_utd_name(f.name)[1] for f in files])
    return [f for f, keep in zip(files, subject_mask(subjects, split)) if keep]


def read_utd_clips(files: list[Path], progress: bool = False) -> list[UtdClip]:
    """Read ``files`` (any bad file raises :class:`SkeletonFileError` naming it)."""
    it = files
    if progress:
        from tqdm import tqdm
        it = tqdm(files, desc="reading UTD-MHAD", unit="clip", leave=False)
    return [read_utd(f) for f in it]


def load(data_dir: str | Path, config: ModelConfig, split: str, protocol: str | None = None,
         progress: bool = False) -> ClipSet:
    """One split of UTD-MHAD, prepared for ``config``; meta ``subject`` and ``trial``."""
    if protocol not in (None, "xsub"):
        raise DatasetError("UTD-MHAD has one protocol (xsub: subjects 1, 3, 5, 7 train / 2, 4, 6, 8 test); "
                           "drop --protocol")
    clips, labels, names, subjects, trials = [], [], [], [], []
    for c in read_utd_clips(utd_files(data_dir, split), progress):
        x = prepare(c.joints, c.confidence, config, source_fps=c.fps)
        if len(x) == 0:
            raise SkeletonFileError(c.name, "no frame with a person")
        clips.append(x)
        labels.append(c.action - 1)
        names.append(c.name)
        subjects.append(c.subject)
        trials.append(c.trial)
    return ClipSet(clips, np.array(labels, dtype=int), UTD_LABELS, names,
                   {"subject": np.array(subjects, dtype=int), "trial": np.array(trials, dtype=int)})
