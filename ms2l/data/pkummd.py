"""PKU-MMD parts I and II: untrimmed skeleton streams cut into action clips, cached like NTU.

PKU-MMD ships, per video, a skeleton file (``Data/skeleton/NAME.txt``, 150 numbers
per frame: two people, 25 Kinect v2 joints; see :mod:`pose_adapters.readers.pkummd`)
and a label file (``Label/NAME.txt``, one line per action: ``label,start,end,confidence``,
frames numbered from 1).  The official cross-subject (and cross-view) splits are
lists of video names in the dataset's split files, which ``--split-file`` reads:
names after a line mentioning "train" are training videos, names after a line
mentioning "valid" or "test" are test videos.

``ms2l prepare --dataset pkummd1 --raw ROOT --split-file cross-subject.txt --out CACHE``
writes the same cache as NTU (:mod:`ms2l.data.cache`) (``split`` column: 1 train, 0 test).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pose_adapters.readers import SkeletonFileError
from pose_adapters.readers.pkummd import read_pkummd

from ..config import ModelConfig
from ..errors import DatasetError
from .cache import build_cache, load_split, pad_persons
from .clipset import ClipSet

PKU_FPS = 30.0
NUM_ACTIONS = 51
#: Action ids are 1..51 in both parts (part II uses 41 of them); names are not in the files.
PKU_LABELS: tuple[str, ...] = tuple(f"PKU-MMD action {i:02d}" for i in range(1, NUM_ACTIONS + 1))
_NAME = re.compile(r"\b(\d{4}-[LMR]|A\d{2,3}N\d{2,3}-[LMR])\b")
_VIEWS = {"L": 1, "M": 2, "R": 3}


def read_labels(path: str | Path) -> list[tuple[int, int, int]]:
    """``[(action 1..51, first frame, last frame)]`` (1-based, inclusive) from one label file."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise SkeletonFileError(path, f"cannot read label file: {e}") from None
    out = []
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.replace(" ", ",").split(",") if f.strip()]
        try:
            action, start, end = (int(float(f)) for f in fields[:3])
        except ValueError:
            raise SkeletonFileError(path, f"expected 'label,start,end,confidence', got {line.strip()!r}", k) from None
        if len(fields) < 3 or not (1 <= action <= NUM_ACTIONS) or not (1 <= start <= end):
            raise SkeletonFileError(path, f"bad action interval {line.strip()!r}", k)
        out.append((action, start, end))
    return out


def read_split(path: str | Path) -> tuple[set[str], set[str]]:
    """Training and test video names from an official PKU-MMD split file."""
    train: set[str] = set()
    test: set[str] = set()
    target = None
    for line in Path(path).read_text().splitlines():
        low = line.lower()
        if "train" in low:
            target = train
        elif "valid" in low or "test" in low:
            target = test
        names = _NAME.findall(line)
        if names:
            if target is None:
                raise SkeletonFileError(path, "video names before any 'training'/'validation' heading")
            target.update(names)
    if not train or not test:
        raise SkeletonFileError(path, "no training or no test videos found")
    return train, test


def prepare_pkummd(raw: str | Path, out: str | Path, part: int, split_file: str | Path,
                   progress: bool = True) -> dict:
    """Cut every video of ``raw`` (with ``skeleton/`` and ``label/`` folders, any case) into clips and cache them."""
    raw, out = Path(raw), Path(out)
    skel_dir = _find_dir(raw, "skeleton")
    label_dir = _find_dir(raw, "label")
    train, test = read_split(split_file)
    videos = sorted(p.stem for p in skel_dir.glob("*.txt") if p.stem in train | test)
    if not videos:
        raise FileNotFoundError(f"no skeleton files of the split's videos in {skel_dir}")

    def read(name: str) -> list:
        clip = read_pkummd(skel_dir / f"{name}.txt")
        j, c = pad_persons(clip.joints, clip.confidence)
        T = j.shape[1]
        samples = []
        for n, (action, start, end) in enumerate(read_labels(label_dir / f"{name}.txt")):
            a, b = start - 1, min(end, T)
            if a >= b:
                continue
            samples.append((f"{name}#{n:03d}", j[:, a:b].transpose(1, 0, 2, 3), c[:, a:b].transpose(1, 0, 2),
                            (part, _VIEWS.get(name[-1], 0), 0, n, action, int(name in train)),
                            int((c[:, a:b] > 0).any(axis=(1, 2)).sum())))
        return samples

    return build_cache(videos, out, f"pkummd{part}", read, fps=PKU_FPS, progress=progress)


def _find_dir(root: Path, name: str) -> Path:
    for cand in (root / name, root / name.capitalize(), root / "Data" / name, root / "Data" / name.upper(),
                 root / name.upper()):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"no {name}/ folder under {root}")


def load_pkummd(cache: str | Path, config: ModelConfig, split: str, protocol: str | None = None,
                progress: bool = False, dataset: str | None = None) -> ClipSet:
    """The ``split`` (train/test, fixed by the split file at preparation; or all) of a PKU-MMD cache."""
    if protocol not in (None, "xsub", "split-file"):
        raise DatasetError("PKU-MMD's split is the split file given to `ms2l prepare`; drop --protocol")
    if split not in ("train", "test", "all"):
        raise DatasetError(f"unknown split {split!r}; choose train, test or all")

    def mask(index: dict, _: str) -> np.ndarray:
        train = index["split"] == 1
        return train if split == "train" else ~train if split == "test" else np.ones_like(train)

    return load_split(cache, config, mask, PKU_LABELS, dataset, progress, desc=f"loading {dataset or 'PKU-MMD'} {split}")
