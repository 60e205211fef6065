"""NW-UCLA Multiview Action3D: a folder of JSON clips; views 1+2 train, view 3 test."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_adapters.readers import NWUCLA_ACTIONS, SkeletonFileError, read_nwucla

from ..config import ModelConfig
from ..errors import DatasetError
from ..preprocess import prepare
from .clipset import ClipSet

#: Frame rate this project assumes for the NW-UCLA release (see README, "NW-UCLA frame rate").
NWUCLA_FPS = 15.0
NWUCLA_LABELS: tuple[str, ...] = tuple(NWUCLA_ACTIONS[a] for a in sorted(NWUCLA_ACTIONS))


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


def view_mask(view: np.ndarray, split: str) -> np.ndarray:
    """Boolean mask of the clips of ``split`` given each clip's camera view (see :func:`nwucla_split`)."""
    view = np.asarray(view)
    masks = {"train": view != 3, "test": view == 3, "train1": view == 1, "val2": view == 2, "all": view > 0}
    if split not in masks:
        raise DatasetError(f"unknown split {split!r}; choose from {', '.join(masks)}")
    return masks[split]


def nwucla_split(clips: ClipSet, split: str) -> ClipSet:
    """The standard cross-view protocol: ``train`` = views 1 and 2, ``test`` = view 3.

    ``train1``/``val2`` split the training views once more (view 1 / view 2) for
    choosing settings without touching the test view.
    """
    return clips.where(view_mask(clips.meta["view"], split))


def load(data_dir: str | Path, config: ModelConfig, split: str, protocol: str | None = None,
         progress: bool = False) -> ClipSet:
    """One split of NW-UCLA, prepared for ``config``."""
    if protocol not in (None, "xview"):
        raise DatasetError("NW-UCLA has one protocol (train views 1+2, test view 3); drop --protocol")
    return nwucla_split(load_nwucla(data_dir, config, progress), split)
