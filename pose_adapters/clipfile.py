"""The one ``.npz`` skeleton-clip format: written by ``ms2l extract``, the runtime's
recorder and ``ms2l clips export``; read by replay, library import and dataset import.

Arrays (NumPy ``.npz``, never pickled):

================  ============================================================
``joints``        ``[T, V=25, C=3]`` float32, metres, the project convention
                  (``[M, T, V, C]`` for a clip of ``M`` persons, e.g. a pair from the library)
``confidence``    ``[T, V]`` (``[M, T, V]``) float32 in [0, 1]; a frame whose rows are all 0 has no person
``timestamps``    ``[T]`` float64 seconds, strictly increasing
``fps``           scalar float64, the nominal frame rate (0 when unknown)
``label``         scalar string, the action ("" for none)
``image_points``  optional ``[T, V, 2]`` float32 pixels (NaN where missing)
``mirrored``      optional scalar bool: the source video was a mirror image
``adapter``       optional scalar string: the layout the joints came from
================  ============================================================

Older files may lack ``confidence`` (all joints seen), ``timestamps`` (taken from
``fps``, else 30 fps) or call the timestamps ``t``; :func:`read_clip` accepts them.
Only ``read_clip(path, multi=True)`` accepts a clip of several persons (a ``[1, T, V, C]``
file is one person either way); replay takes one person.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .convention import NUM_JOINTS
from .readers.errors import SkeletonFileError

FORMAT = "ms2l-clip"
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class SkeletonClip:
    """A skeleton clip: ``joints[T, V, C]``, ``confidence[T, V]``, ``timestamps[T]`` s (one person), or
    ``joints[M, T, V, C]``, ``confidence[M, T, V]`` for ``M >= 2`` persons (read with ``multi=True``)."""

    joints: np.ndarray
    confidence: np.ndarray
    timestamps: np.ndarray
    fps: float = 0.0
    label: str | None = None
    image_points: np.ndarray | None = None
    mirrored: bool = False
    adapter: str = ""

    @property
    def frames(self) -> int:
        return len(self.timestamps)

    @property
    def persons(self) -> int:
        return 1 if np.ndim(self.joints) == 3 else int(np.shape(self.joints)[0])


def write_clip(path: str | Path, clip: SkeletonClip) -> Path:
    """Write ``clip`` to ``path`` (``.npz``) atomically: a crash leaves the old file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "joints": np.asarray(clip.joints, np.float32), "confidence": np.asarray(clip.confidence, np.float32),
        "timestamps": np.asarray(clip.timestamps, np.float64), "fps": np.float64(clip.fps or 0.0),
        "label": np.str_(clip.label or ""), "mirrored": np.bool_(clip.mirrored), "adapter": np.str_(clip.adapter),
    }
    if clip.image_points is not None:
        arrays["image_points"] = np.asarray(clip.image_points, np.float32)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return path


def read_clip(path: str | Path, *, multi: bool = False) -> SkeletonClip:
    """Read and check one clip; any problem raises :class:`SkeletonFileError` naming the file.

    ``multi``: also accept a clip of several persons (``joints[M, T, 25, 3]``), returned as such;
    without it such a file is refused.  A one-person clip is always ``[T, 25, 3]``.
    """
    path = Path(path)
    if not path.is_file():
        raise SkeletonFileError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        # allow_pickle=False makes an object array a ValueError: never unpickled.
        raise SkeletonFileError(path, f"not a readable .npz skeleton clip ({e})") from None
    if "joints" not in d:
        raise SkeletonFileError(path, "no 'joints' array (expected an ms2l skeleton clip)")
    j = d["joints"]
    if j.ndim == 4 and j.shape[2:] == (NUM_JOINTS, 3) and len(j) >= 1 and np.issubdtype(j.dtype, np.number):
        if len(j) > 1 and not multi:
            raise SkeletonFileError(path, f"'joints' holds {len(j)} persons {list(j.shape)}; "
                                          "this takes one person's clip [T, 25, 3]")
    elif j.ndim != 3 or j.shape[1:] != (NUM_JOINTS, 3) or not np.issubdtype(j.dtype, np.number):
        want = "[T, 25, 3] (or [M, T, 25, 3])" if multi else "[T, 25, 3]"
        raise SkeletonFileError(path, f"'joints' must be {want} numbers in the NTU-25 convention, "
                                      f"got {list(j.shape)} {j.dtype}")
    T = j.shape[-3]
    lead = j.shape[:-2]  # (T,) or (M, T)
    c = d.get("confidence")
    c = np.ones((*lead, NUM_JOINTS), np.float32) if c is None else c
    if c.shape != (*lead, NUM_JOINTS) or not np.issubdtype(c.dtype, np.number):
        want = f"[T={T}, 25]" if j.ndim == 3 else f"[M={len(j)}, T={T}, 25]"
        raise SkeletonFileError(path, f"'confidence' must be {want} numbers, got {list(c.shape)}")
    fps = _scalar(d, "fps", path)
    t = d.get("timestamps", d.get("t"))
    if t is None:
        t = np.arange(T, dtype=np.float64) / (fps if fps > 0 else DEFAULT_FPS)
    t = np.asarray(t)
    if t.shape != (T,) or not np.issubdtype(t.dtype, np.number):
        raise SkeletonFileError(path, f"'timestamps' must be [T={T}] seconds, got {list(t.shape)}")
    t = t.astype(np.float64)
    if not np.isfinite(t).all() or (T > 1 and np.any(np.diff(t) <= 0)):
        raise SkeletonFileError(path, "timestamps must be finite and strictly increasing")
    ip = d.get("image_points")
    ip = ip.astype(np.float32) if ip is not None and ip.shape == (*lead, NUM_JOINTS, 2) else None
    if j.ndim == 4 and len(j) == 1:  # one person, whatever the layout
        j, c, ip = j[0], c[0], None if ip is None else ip[0]
    label = str(d["label"]) if "label" in d and d["label"].ndim == 0 else ""
    return SkeletonClip(
        joints=j.astype(np.float32), confidence=np.clip(np.nan_to_num(c.astype(np.float32)), 0.0, 1.0),
        timestamps=t, fps=fps, label=label or None, image_points=ip,
        mirrored=bool(d["mirrored"]) if "mirrored" in d and d["mirrored"].ndim == 0 else False,
        adapter=str(d["adapter"]) if "adapter" in d and d["adapter"].ndim == 0 else "")


def _scalar(d: dict[str, np.ndarray], key: str, path: Path) -> float:
    if key not in d:
        return 0.0
    v = d[key]
    if v.ndim != 0 or not np.issubdtype(v.dtype, np.number):
        raise SkeletonFileError(path, f"'{key}' must be one number")
    x = float(v)
    return x if np.isfinite(x) and x > 0 else 0.0
