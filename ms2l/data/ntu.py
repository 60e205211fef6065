"""NTU RGB+D 60/120: raw ``.skeleton`` folders -> a memory-mapped cache, and the standard splits.

``ms2l prepare --dataset ntu60 --raw DIR --out CACHE`` reads every sample once and
writes ``CACHE/``:

* ``joints.npy``      ``[F, M=2, 25, 3]`` float32, every sample's frames one after another
  (camera space, the two most active bodies; see :mod:`pose_adapters.readers.ntu`),
* ``confidence.npy``  ``[F, M=2, 25]`` float16,
* ``index.npz``       ``names[N]``, ``offsets[N+1]`` into the frame axis, ``action`` (1-based),
  ``setup``, ``camera``, ``subject``, ``replication``, ``bodies[N]`` (bodies kept),
* ``manifest.json``   dataset, counts, skipped samples and why.

Work is done in shards of :data:`SHARD` files under ``CACHE/shards/``; a run that is
interrupted resumes from the shards already written.  Samples on the official list
of missing skeletons, and samples in which no body is ever seen, are skipped.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

from pose_adapters.readers.ntu import parse_ntu_name, read_ntu_skeleton

from ..config import ModelConfig
from ..errors import DatasetError
from .cache import PERSONS, Sample, build_cache, load_split, open_cache, pad_persons
from .clipset import ClipSet

NTU_FPS = 30.0

NTU60_LABELS: tuple[str, ...] = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up", "clapping", "reading", "writing", "tear up paper", "wear jacket",
    "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses", "take off glasses",
    "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "reach into pocket", "hopping", "jump up", "make a phone call", "playing with phone/tablet",
    "typing on a keyboard", "pointing to something", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute",
    "put the palms together", "cross hands in front", "sneeze/cough", "staggering", "falling",
    "touch head (headache)", "touch chest (stomachache/heart pain)", "touch back (backache)",
    "touch neck (neckache)", "nausea or vomiting", "use a fan/feeling warm",
    "punching/slapping other person", "kicking other person", "pushing other person",
    "pat on back of other person", "point finger at the other person", "hugging other person",
    "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
)
NTU120_LABELS: tuple[str, ...] = NTU60_LABELS + (
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball", "tennis bat swing",
    "juggling table tennis balls", "hush (quiet)", "flick hair", "thumb up", "thumb down", "make ok sign",
    "make victory sign", "staple book", "counting money", "cutting nails", "cutting paper (using scissors)",
    "snapping fingers", "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (rock-paper-scissors)",
)

#: Training subjects of the cross-subject protocols (the rest are test subjects).
XSUB60_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
XSUB120_TRAIN = XSUB60_TRAIN | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89,
    91, 92, 93, 94, 95, 97, 98, 100, 103})
#: Cameras used for training in NTU-60 cross-view (camera 1 is the test view).
XVIEW60_TRAIN_CAMERAS = frozenset({2, 3})
PROTOCOLS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}


def official_missing() -> frozenset[str]:
    """The NTU RGB+D 60 list of 302 samples with missing skeletons, as published with the dataset.

    NTU-120 adds 233 more: pass the official ``NTU_RGBD120_samples_with_missing_skeletons.txt``
    to ``ms2l prepare --missing``; samples with no body at all are dropped either way.
    """
    text = resources.files("ms2l.resources").joinpath("ntu60_missing.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def _sample_files(raw: Path, dataset: str) -> list[Path]:
    files = sorted(raw.glob("*.skeleton"))
    if not files:
        raise FileNotFoundError(f"no .skeleton files in {raw}")
    max_action = 60 if dataset == "ntu60" else 120
    return [f for f in files if (n := parse_ntu_name(f.name)) is not None and n[4] <= max_action]


def prepare_cache(raw: str | Path, out: str | Path, dataset: str = "ntu60",
                  missing: Iterable[str] | None = None, progress: bool = True) -> dict:
    """Build (or finish building) the cache; returns the manifest."""
    if dataset not in PROTOCOLS:
        raise DatasetError(f"unknown NTU dataset {dataset!r}; choose ntu60 or ntu120")
    raw, out = Path(raw), Path(out)
    skip = set(official_missing()) | set(missing or ())
    files = [f for f in _sample_files(raw, dataset) if f.name.split(".")[0] not in skip]
    listed = len(_sample_files(raw, dataset)) - len(files)
    return build_cache(files, out, dataset, _read_ntu_file, listed, NTU_FPS, progress)


def _read_ntu_file(f: Path) -> list[Sample]:
    s = read_ntu_skeleton(f, max_bodies=PERSONS)
    j, c = pad_persons(s.joints, s.confidence)
    return [(s.name, j.transpose(1, 0, 2, 3), c.transpose(1, 0, 2),
             (s.setup, s.camera, s.performer, s.replication, s.action, -1), len(s.chosen))]


def split_mask(index: dict, dataset: str, protocol: str, split: str) -> np.ndarray:
    """Boolean mask of the samples in ``split`` (train/test) of ``protocol``."""
    if protocol not in PROTOCOLS[dataset]:
        raise DatasetError(f"{dataset} protocols are {', '.join(PROTOCOLS[dataset])}, not {protocol!r}")
    if protocol == "xsub":
        train = np.isin(index["subject"], sorted(XSUB60_TRAIN if dataset == "ntu60" else XSUB120_TRAIN))
    elif protocol == "xview":
        train = np.isin(index["camera"], sorted(XVIEW60_TRAIN_CAMERAS))
    else:  # xset: even setups train
        train = index["setup"] % 2 == 0
    if split == "train":
        return train
    if split == "test":
        return ~train
    if split == "all":
        return np.ones_like(train)
    raise DatasetError(f"unknown split {split!r}; choose train, test or all")




def load_ntu(cache: str | Path, config: ModelConfig, split: str, protocol: str | None = None, progress: bool = False,
             dataset: str | None = None) -> ClipSet:
    """The ``split`` of a prepared NTU cache as a :class:`ClipSet` (through ``prepare()``)."""
    protocol = protocol or "xsub"

    def labels_of(name: str) -> tuple[str, ...]:
        return NTU60_LABELS if name == "ntu60" else NTU120_LABELS

    name = open_cache(cache, dataset)[0]["dataset"]
    if name not in PROTOCOLS:
        raise DatasetError(f"{cache} holds {name}, not an NTU RGB+D dataset")
    return load_split(cache, config, lambda index, ds: split_mask(index, ds, protocol, split), labels_of(name),
                      dataset, progress, desc=f"loading {name} {protocol} {split}")
