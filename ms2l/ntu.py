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

import json
import os
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

from pose_adapters.readers import SkeletonFileError
from pose_adapters.readers.ntu import parse_ntu_name, read_ntu_skeleton

from .config import ModelConfig
from .preprocess import prepare

NTU_FPS = 30.0
SHARD = 500
PERSONS = 2
CACHE_VERSION = 1

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
PROTOCOLS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset"),
             # PKU-MMD: the split file given to `ms2l prepare` (official x-sub or x-view list).
             "pkummd1": ("xsub", "split-file"), "pkummd2": ("xsub", "split-file")}


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
        raise ValueError(f"unknown NTU dataset {dataset!r}; choose ntu60 or ntu120")
    if dataset.startswith("pkummd"):
        raise ValueError("PKU-MMD is prepared by ms2l.pkummd.prepare_pkummd")
    raw, out = Path(raw), Path(out)
    skip = set(official_missing()) | set(missing or ())
    files = [f for f in _sample_files(raw, dataset) if f.name.split(".")[0] not in skip]
    listed = len(_sample_files(raw, dataset)) - len(files)
    return build_cache(files, out, dataset, _read_ntu_file, listed, NTU_FPS, progress)


Sample = tuple  # (name, joints[T, M, 25, 3], confidence[T, M, 25], meta (setup, camera, subject, replication, action, split), bodies)


def _read_ntu_file(f: Path) -> list[Sample]:
    s = read_ntu_skeleton(f, max_bodies=PERSONS)
    j, c = _pad_persons(s.joints, s.confidence)
    return [(s.name, j.transpose(1, 0, 2, 3), c.transpose(1, 0, 2),
             (s.setup, s.camera, s.performer, s.replication, s.action, -1), len(s.chosen))]


def _pad_persons(j: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[M, T, 25, 3]``, ``[M, T, 25]`` padded with absent persons to :data:`PERSONS`."""
    if j.shape[0] < PERSONS:
        j = np.concatenate([j, np.zeros((PERSONS - j.shape[0], *j.shape[1:]), np.float32)])
        c = np.concatenate([c, np.zeros((PERSONS - c.shape[0], *c.shape[1:]), np.float32)])
    return j[:PERSONS], c[:PERSONS]


def _write_shard(items: list, path: Path, read=_read_ntu_file) -> None:
    """Read ``items`` (files) with ``read`` and write their samples as one shard, atomically."""
    joints, conf, names, meta, lengths, bodies, empty, bad = [], [], [], [], [], [], [], []
    for item in items:
        try:
            samples = read(item)
        except SkeletonFileError as e:
            bad.append(f"{Path(e.path).name}: {e.problem}")
            continue
        for name, j, c, m, b in samples:
            if not (c > 0).any():
                empty.append(name)
                continue
            joints.append(j)
            conf.append(c.astype(np.float16))
            names.append(name)
            meta.append(m)
            lengths.append(len(j))
            bodies.append(b)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, joints=np.concatenate(joints) if joints else np.zeros((0, PERSONS, 25, 3), np.float32),
             confidence=np.concatenate(conf) if conf else np.zeros((0, PERSONS, 25), np.float16),
             names=np.array(names), meta=np.array(meta, dtype=np.int32).reshape(-1, 6),
             lengths=np.array(lengths, dtype=np.int64), bodies=np.array(bodies, dtype=np.int8),
             empty=np.array(empty), bad=np.array(bad))
    os.replace(tmp, path)


def build_cache(items: list, out: Path, dataset: str, read, listed: int = 0, fps: float = NTU_FPS,
                progress: bool = True) -> dict:
    """Shard by shard (resumable), then assemble the memory-mapped cache."""
    shards = out / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    chunks = [items[i:i + SHARD] for i in range(0, len(items), SHARD)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(items), desc=f"preparing {dataset}", unit="file")
    for k, chunk in enumerate(chunks):
        path = shards / f"{k:05d}.npz"
        if not path.exists():  # resumable: a shard finished by an earlier run is kept
            _write_shard(chunk, path, read)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return _assemble(out, dataset, len(chunks), listed, fps)


def _assemble(out: Path, dataset: str, n_shards: int, listed: int, fps: float = NTU_FPS) -> dict:
    shards = [np.load(out / "shards" / f"{k:05d}.npz") for k in range(n_shards)]
    total = int(sum(s["lengths"].sum() for s in shards))
    joints = np.lib.format.open_memmap(out / "joints.npy.tmp", mode="w+", dtype=np.float32, shape=(total, PERSONS, 25, 3))
    conf = np.lib.format.open_memmap(out / "confidence.npy.tmp", mode="w+", dtype=np.float16, shape=(total, PERSONS, 25))
    at = 0
    for s in shards:
        n = len(s["joints"])
        joints[at:at + n], conf[at:at + n] = s["joints"], s["confidence"]
        at += n
    joints.flush(), conf.flush()
    del joints, conf
    os.replace(out / "joints.npy.tmp", out / "joints.npy")
    os.replace(out / "confidence.npy.tmp", out / "confidence.npy")
    lengths = np.concatenate([s["lengths"] for s in shards]) if shards else np.zeros(0, np.int64)
    meta = np.concatenate([s["meta"] for s in shards]) if shards else np.zeros((0, 6), np.int32)
    np.savez(out / "index.npz", names=np.concatenate([s["names"] for s in shards]) if shards else np.array([]),
             offsets=np.concatenate([[0], np.cumsum(lengths)]), setup=meta[:, 0], camera=meta[:, 1],
             subject=meta[:, 2], replication=meta[:, 3], action=meta[:, 4], split=meta[:, 5],
             bodies=np.concatenate([s["bodies"] for s in shards]) if shards else np.zeros(0, np.int8))
    manifest = {
        "version": CACHE_VERSION, "dataset": dataset, "samples": int(len(lengths)), "frames": total,
        "fps": fps, "persons": PERSONS,
        "skipped_official_missing": listed,
        "skipped_no_body": sorted(str(x) for s in shards for x in s["empty"]),
        "unreadable": sorted(str(x) for s in shards for x in s["bad"]),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def split_mask(index: dict, dataset: str, protocol: str, split: str) -> np.ndarray:
    """Boolean mask of the samples in ``split`` (train/test) of ``protocol``."""
    if protocol not in PROTOCOLS[dataset]:
        raise ValueError(f"{dataset} protocols are {', '.join(PROTOCOLS[dataset])}, not {protocol!r}")
    if dataset.startswith("pkummd"):
        train = index["split"] == 1  # decided by the split file at prepare time
    elif protocol == "xsub":
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
    raise ValueError(f"unknown split {split!r}; choose train, test or all")


def load_ntu(cache: str | Path, config: ModelConfig, split: str, protocol: str | None = None, progress: bool = False,
             dataset: str | None = None):
    """The ``split`` of a prepared cache as a :class:`~ms2l.datasets.ClipSet` (through ``prepare()``)."""
    from .datasets import ClipSet

    cache = Path(cache)
    mpath = cache / "manifest.json"
    if not mpath.exists():
        raise FileNotFoundError(f"{cache} is not an NTU cache (no manifest.json): run `ms2l prepare` first")
    manifest = json.loads(mpath.read_text())
    if dataset is not None and manifest["dataset"] != dataset:
        raise ValueError(f"{cache} holds {manifest['dataset']}, not {dataset}")
    dataset = manifest["dataset"]
    index = dict(np.load(cache / "index.npz"))
    joints = np.load(cache / "joints.npy", mmap_mode="r")
    conf = np.load(cache / "confidence.npy", mmap_mode="r")
    if dataset.startswith("pkummd"):
        from .pkummd import PKU_LABELS as labels_all
    else:
        labels_all = NTU60_LABELS if dataset == "ntu60" else NTU120_LABELS
    sel = np.flatnonzero(split_mask(index, dataset, protocol or "xsub", split))
    it = sel
    if progress:
        from tqdm import tqdm
        it = tqdm(sel, desc=f"loading {dataset} {protocol or 'xsub'} {split}", unit="clip", leave=False)
    clips, keep = [], []
    off = index["offsets"]
    for i in it:
        j = np.asarray(joints[off[i]:off[i + 1]]).transpose(1, 0, 2, 3)   # [M, T, 25, 3]
        c = np.asarray(conf[off[i]:off[i + 1]], dtype=np.float32).transpose(1, 0, 2)
        x = prepare(j, c, config, source_fps=manifest["fps"])
        if len(x):
            clips.append(x)
            keep.append(i)
    keep = np.array(keep, dtype=int)
    return ClipSet(clips, index["action"][keep].astype(int) - 1, labels_all, [str(n) for n in index["names"][keep]],
                   {k: index[k][keep] for k in ("setup", "camera", "subject", "replication")})
