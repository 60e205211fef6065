"""A memory-mapped skeleton cache that knows no dataset: shards written once, assembled, read by split.

``CACHE/`` holds

* ``joints.npy``      ``[F, M=2, V=25, C=3]`` float32, every sample's frames one after another,
* ``confidence.npy``  ``[F, M, V]`` float16,
* ``index.npz``       ``names[N]``, ``offsets[N+1]`` into the frame axis, ``action`` (1-based), ``setup``,
  ``camera``, ``subject``, ``replication``, ``split`` (1 train / 0 test when fixed at preparation,
  else -1), ``bodies[N]`` (bodies kept),
* ``manifest.json``   dataset, counts, frame rate, skipped samples and why.

A dataset module gives :func:`build_cache` its files and a reader that turns one
file into samples; work is done in shards of :data:`SHARD` files under
``CACHE/shards/``, so an interrupted run resumes from the shards already written.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from pose_adapters.readers import SkeletonFileError

from ..config import ModelConfig
from ..errors import DatasetError
from ..preprocess import prepare
from .clipset import ClipSet

SHARD = 500
PERSONS = 2
CACHE_VERSION = 1

#: (name, joints[T, M, 25, 3], confidence[T, M, 25], meta (setup, camera, subject, replication, action, split), bodies)
Sample = tuple
Reader = Callable[[object], "list[Sample]"]


def pad_persons(j: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[M, T, 25, 3]``, ``[M, T, 25]`` padded with absent persons to :data:`PERSONS`."""
    if j.shape[0] < PERSONS:
        j = np.concatenate([j, np.zeros((PERSONS - j.shape[0], *j.shape[1:]), np.float32)])
        c = np.concatenate([c, np.zeros((PERSONS - c.shape[0], *c.shape[1:]), np.float32)])
    return j[:PERSONS], c[:PERSONS]


def _write_shard(items: list, path: Path, read: Reader) -> None:
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


def build_cache(items: list, out: Path, dataset: str, read: Reader, listed: int = 0, fps: float = 30.0,
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


def _assemble(out: Path, dataset: str, n_shards: int, listed: int, fps: float) -> dict:
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


def open_cache(cache: str | Path, dataset: str | None = None) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """``(manifest, index, joints, confidence)`` of a prepared cache, the arrays memory-mapped."""
    cache = Path(cache)
    mpath = cache / "manifest.json"
    if not mpath.exists():
        raise DatasetError(f"{cache} is not a prepared cache (no manifest.json): run `ms2l prepare` first")
    manifest = json.loads(mpath.read_text())
    if dataset is not None and manifest["dataset"] != dataset:
        raise DatasetError(f"{cache} holds {manifest['dataset']}, not {dataset}")
    index = dict(np.load(cache / "index.npz"))
    return manifest, index, np.load(cache / "joints.npy", mmap_mode="r"), np.load(cache / "confidence.npy", mmap_mode="r")


def load_split(cache: str | Path, config: ModelConfig, mask: Callable[[dict, str], np.ndarray],
               labels: Sequence[str], dataset: str | None = None, progress: bool = False,
               desc: str = "loading") -> ClipSet:
    """The samples ``mask(index, dataset)`` selects, through ``prepare()``, as a :class:`ClipSet`."""
    manifest, index, joints, conf = open_cache(cache, dataset)
    sel = np.flatnonzero(mask(index, manifest["dataset"]))
    it = sel
    if progress:
        from tqdm import tqdm
        it = tqdm(sel, desc=desc, unit="clip", leave=False)
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
    return ClipSet(clips, index["action"][keep].astype(int) - 1, tuple(labels), [str(n) for n in index["names"][keep]],
                   {k: index[k][keep] for k in ("setup", "camera", "subject", "replication")})
