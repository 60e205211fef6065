"""An unlabelled pretraining pool: every motion the project can read, never a benchmark's test split.

``ms2l pretrain --dataset nw-ucla,utd-mhad,sbu,cmu,ntu-samples,bvh-samples --data DIR1,...,DIR6``
(or ``--dataset pool --data ../shared/datasets``: every source found under that folder in
the ``../shared/datasets`` layout, :data:`LAYOUT`) pretrains on

==============  =====================================================================
source          what goes in
==============  =====================================================================
nw-ucla         the training split: views 1 and 2 (view 3 is the benchmark's test view)
utd-mhad        the training split: subjects 1, 3, 5, 7 (2, 4, 6, 8 are the test subjects)
sbu             every actor pair by default -- SBU is not what pool encoders are
                benchmarked on; ``sbu:fold3`` keeps only fold 3's training pairs, for an
                encoder that will be tested on SBU fold 3
cmu             every CMU take (unlabelled), cut into windows
ntu-samples     every raw NTU ``.skeleton`` file, cut into windows
bvh-samples     every other BVH take (Bandai-Namco samples), cut into windows
==============  =====================================================================

Labels are dropped (-1).  Every take goes through :func:`ms2l.preprocess.prepare` with its
own frame rate, so the pool is at the model's rate.  For a one-person model every person
of a two-person take (SBU, NTU A058) becomes a clip of its own; a model with more persons
gets the take whole.  Long unlabelled takes are cut, before ``prepare``, into windows of
``config.window`` frames at the model's rate with 50 % overlap (a final window is aligned
to the take's end), each normalised on its own as a live window is.  Labelled clips are
short single actions and are kept whole.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from pose_adapters.readers import read_bvh_skeleton, read_ntu_skeleton, read_nwucla, read_sbu, read_utd
from pose_adapters.readers.nwucla import parse_nwucla_name

from ..config import ModelConfig
from ..errors import DatasetError
from ..preprocess import prepare
from . import sbu, utd
from .clipset import ClipSet
from .nwucla import NWUCLA_FPS, view_mask

#: Sources a pool can hold, in the order ``--dataset pool`` lists them.
SOURCES: tuple[str, ...] = ("nw-ucla", "utd-mhad", "sbu", "cmu", "ntu-samples", "bvh-samples")
#: Where each source lives under a datasets folder laid out as ../shared/datasets.
LAYOUT: dict[str, str] = {
    "nw-ucla": "nw-ucla/all_sqe", "utd-mhad": "utd-mhad/Skeleton", "sbu": "sbu-kinect-interaction",
    "cmu": "cmu-mocap-bvh", "ntu-samples": "ntu-samples", "bvh-samples": "bvh-samples",
}
#: Unlabelled sources: their takes are long and cut into windows.
WINDOWED: frozenset[str] = frozenset({"cmu", "ntu-samples", "bvh-samples"})
#: Overlap of consecutive windows, as a share of the window.
OVERLAP = 0.5


@dataclass(frozen=True)
class PoolSource:
    """One source of a pool: a name from :data:`SOURCES`, its folder, and (SBU) the fold whose training pairs to use."""

    name: str
    data_dir: Path
    protocol: str | None = None

    @property
    def spec(self) -> str:
        return self.name if self.protocol is None else f"{self.name}:{self.protocol}"


@dataclass(frozen=True)
class Take:
    """One recording before ``prepare()``.

    joints: ``[M, T, V=25, C=3]`` float32 metres in the convention; confidence ``[M, T, V]``;
    fps: the recording's frame rate.
    """

    name: str
    joints: np.ndarray
    confidence: np.ndarray
    fps: float


# ---------------------------------------------------------------------------------- sources

def _nwucla_files(d: Path, protocol: str | None) -> tuple[str, list[Path]]:
    if protocol not in (None, "xview"):
        raise DatasetError(f"nw-ucla has one protocol (xview), not {protocol!r}")
    files = sorted(d.glob("*.json"))
    if not files:
        raise DatasetError(f"no NW-UCLA clips (*.json) in {d}")
    views = np.array([parse_nwucla_name(f.name)[3] for f in files])
    return "train (views 1, 2; view 3 left out)", [f for f, k in zip(files, view_mask(views, "train")) if k]


def _nwucla_take(f: Path) -> Take:
    c = read_nwucla(f)
    return Take(c.name, c.joints[None], c.confidence[None], NWUCLA_FPS)


def _utd_files(d: Path, protocol: str | None) -> tuple[str, list[Path]]:
    if protocol not in (None, "xsub"):
        raise DatasetError(f"utd-mhad has one protocol (xsub), not {protocol!r}")
    subjects = ", ".join(map(str, sorted(utd.TRAIN_SUBJECTS)))
    return f"train (subjects {subjects}; test subjects left out)", utd.utd_files(d, "train")


def _utd_take(f: Path) -> Take:
    c = read_utd(f)
    return Take(c.name, c.joints[None], c.confidence[None], c.fps)


def _sbu_files(d: Path, protocol: str | None) -> tuple[str, list[Path]]:
    if protocol is None:
        return ("all 21 actor pairs (SBU is not benchmarked with a pool encoder; sbu:foldK leaves fold K's "
                "test pairs out)"), sbu.sbu_files(d, None, "all")
    k = sbu.fold_number(protocol)
    pairs = ", ".join(sbu.SBU_FOLDS[k - 1])
    return f"train of {protocol} (test pairs {pairs} left out)", sbu.sbu_files(d, protocol, "train")


def _sbu_take(f: Path) -> Take:
    c = read_sbu(f)
    return Take(c.name, c.joints, c.confidence, c.fps)


def _glob(pattern: str, what: str) -> Callable[[Path, str | None], tuple[str, list[Path]]]:
    def files(d: Path, protocol: str | None) -> tuple[str, list[Path]]:
        if protocol is not None:
            raise DatasetError(f"{what} has no protocols; drop ':{protocol}'")
        found = sorted(d.rglob(pattern))
        if not found:
            raise DatasetError(f"no {what} ({pattern}) under {d}")
        return "all (unlabelled)", found
    return files


def _ntu_take(f: Path) -> Take:
    s = read_ntu_skeleton(f, max_bodies=2)
    return Take(s.name, s.joints, s.confidence, 30.0)


def _bvh_take(f: Path) -> Take:
    motion, joints, confidence = read_bvh_skeleton(f)
    return Take(f.stem, joints[None], confidence[None], motion.fps)


#: source -> (files of the split it contributes, with a description; reader of one file)
_SOURCES: dict[str, tuple[Callable[[Path, str | None], tuple[str, list[Path]]], Callable[[Path], Take]]] = {
    "nw-ucla": (_nwucla_files, _nwucla_take),
    "utd-mhad": (_utd_files, _utd_take),
    "sbu": (_sbu_files, _sbu_take),
    "cmu": (_glob("*.bvh", "CMU BVH takes"), _bvh_take),
    "ntu-samples": (_glob("*.skeleton", "NTU .skeleton files"), _ntu_take),
    "bvh-samples": (_glob("*.bvh", "BVH takes"), _bvh_take),
}


# ------------------------------------------------------------------------------- parsing

def is_pool(datasets: str) -> bool:
    """Whether a ``--dataset`` value names a pool (several sources, ``pool``, or an unlabelled source)."""
    names = [n.strip().split(":")[0] for n in datasets.split(",")]
    return len(names) > 1 or names[0] == "pool" or names[0] in WINDOWED


def parse_sources(datasets: str, data: str) -> list[PoolSource]:
    """``--dataset`` / ``--data`` comma lists (same order) -> sources; ``pool`` + one folder -> :func:`discover`."""
    names = [n.strip() for n in datasets.split(",") if n.strip()]
    dirs = [d.strip() for d in str(data).split(",") if d.strip()]
    if names == ["pool"]:
        if len(dirs) != 1:
            raise DatasetError("--dataset pool takes one --data folder (a datasets folder such as ../shared/datasets)")
        return discover(dirs[0])
    if "pool" in names:
        raise DatasetError("'pool' stands alone: --dataset pool --data DATASETS_DIR, or list the sources")
    if len(names) != len(dirs):
        raise DatasetError(f"--dataset lists {len(names)} source(s) but --data {len(dirs)} folder(s); "
                           "give one folder per dataset, in the same order")
    out = []
    for spec, d in zip(names, dirs):
        name, _, protocol = spec.partition(":")
        if name not in _SOURCES:
            raise DatasetError(f"{name!r} cannot be in a pretraining pool; pool sources: {', '.join(SOURCES)}")
        out.append(PoolSource(name, Path(d), protocol or None))
    seen = [s.name for s in out]
    dup = sorted({n for n in seen if seen.count(n) > 1})
    if dup:
        raise DatasetError(f"{', '.join(dup)} listed twice in --dataset")
    return out


def discover(root: str | Path) -> list[PoolSource]:
    """Every source of :data:`LAYOUT` present under ``root`` (a folder laid out as ../shared/datasets)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no datasets folder {root}")
    found = [PoolSource(name, root / LAYOUT[name]) for name in SOURCES if (root / LAYOUT[name]).is_dir()]
    if not found:
        raise DatasetError(f"no dataset found under {root}; expected any of "
                           + ", ".join(f"{LAYOUT[n]}/ ({n})" for n in SOURCES))
    return found


# ------------------------------------------------------------------------------- loading

def windows(length: int, fps: float, config: ModelConfig) -> list[tuple[int, int]]:
    """``(start, end)`` source frames of windows of ``config.window`` model frames, 50 % overlap.

    A take no longer than one window is one window; the last window ends at the take's end.
    """
    size = int(round((config.window - 1) * fps / config.fps)) + 1  # resamples to exactly config.window frames
    if length <= size:
        return [(0, length)]
    hop = max(1, int(round(config.window * (1 - OVERLAP) * fps / config.fps)))
    starts = list(range(0, length - size + 1, hop))
    if starts[-1] + size < length:
        starts.append(length - size)
    return [(s, s + size) for s in starts]


def _pieces(take: Take, config: ModelConfig, windowed: bool) -> Iterator[tuple[str, int, int, np.ndarray, np.ndarray]]:
    """``(name, person, start, joints, confidence)`` per clip the take gives (person -1: all persons)."""
    seen = (take.confidence > 0).any(axis=(1, 2))
    if config.persons == 1:
        people = [(m, take.joints[m:m + 1], take.confidence[m:m + 1]) for m in np.flatnonzero(seen)]
    else:
        people = [(-1, take.joints, take.confidence)]
    several = len(people) > 1
    for m, j, c in people:
        person = "" if not several else f"#p{m + 1}"
        spans = windows(j.shape[1], take.fps, config) if windowed else [(0, j.shape[1])]
        for s, e in spans:
            name = f"{take.name}{person}" + (f"@{s}" if len(spans) > 1 else "")
            yield name, int(m), s, j[:, s:e], c[:, s:e]


def load_pool(sources: list[PoolSource], config: ModelConfig, progress: bool = False) -> tuple[ClipSet, list[dict[str, Any]]]:
    """The pool for ``config``: unlabelled clips (meta ``source``, ``person``, ``start``) and its composition.

    The composition has one record per source: ``dataset``, ``data``, ``split`` (what was
    used and what was left out), ``files`` read, ``clips`` made and their ``frames`` at the
    model's rate.
    """
    clips: list[np.ndarray] = []
    names: list[str] = []
    meta: dict[str, list] = {"source": [], "person": [], "start": []}
    composition = []
    for src in sources:
        list_files, read = _SOURCES[src.name]
        if not src.data_dir.exists():
            raise FileNotFoundError(f"no {src.name} folder {src.data_dir}")
        split, files = list_files(src.data_dir, src.protocol)
        it: Any = files
        if progress:
            from tqdm import tqdm
            it = tqdm(files, desc=f"reading {src.name}", unit="file", leave=False)
        n_clips = n_frames = 0
        for f in it:
            take = read(f)
            for name, person, start, j, c in _pieces(take, config, src.name in WINDOWED):
                x = prepare(j, c, config, source_fps=take.fps)
                if len(x) == 0:
                    continue
                clips.append(x)
                names.append(f"{src.name}:{name}")
                meta["source"].append(src.name)
                meta["person"].append(person)
                meta["start"].append(start)
                n_clips += 1
                n_frames += len(x)
        record: dict[str, Any] = {"dataset": src.spec, "data": str(src.data_dir), "split": split,
                                  "files": len(files), "clips": n_clips, "frames": n_frames}
        if src.name in WINDOWED:
            record["windows"] = f"{config.window} frames at {config.fps:g} fps, {OVERLAP:.0%} overlap"
        composition.append(record)
    pool = ClipSet(clips, np.full(len(clips), -1, dtype=int), (), names,
                   {"source": np.array(meta["source"], dtype=str), "person": np.array(meta["person"], dtype=int),
                    "start": np.array(meta["start"], dtype=int)})
    return pool, composition


def pool_metadata(composition: list[dict[str, Any]], config: ModelConfig) -> dict[str, Any]:
    """The encoder metadata's ``data`` entry for a pool (the model card renders it)."""
    return {"dataset": "pool", "split": "training splits only, labels dropped (never a benchmark's test split)",
            "clips": sum(r["clips"] for r in composition), "fps": config.fps, "persons": config.persons,
            "sources": composition}


def take_of(name: str) -> str:
    """The take a pool clip was cut from: its name without the person (``#p2``) and window (``@120``) marks."""
    return re.sub(r"(#p\d+)?(@\d+)?$", "", name)


def split_by_take(clips: ClipSet, fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(first, rest)`` clip indices: about ``fraction`` of the takes, whole, in ``first``.

    Windows of one take (and the people of one interaction) are alike, so a set trained on and a set
    measured on must not share takes.  Stable across runs and machines (a CRC of the take's name).
    The defaults are the split of ``ms2l train --outlier-weight`` (trained on ``first``, measured on
    ``rest``); a benchmark that measures such a model calls it with the defaults too."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    takes = [take_of(n) for n in clips.names]
    first = np.array([zlib.crc32(f"{seed}:{t}".encode()) / 2**32 < fraction for t in takes], bool)
    return np.flatnonzero(first), np.flatnonzero(~first)
