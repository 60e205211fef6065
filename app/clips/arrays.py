"""Checks and conversions for one clip's arrays, labels and paths (shared by every way a clip gets in)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LibraryError

V = 25  # joints per skeleton (NTU-25 convention)


def clean_label(label: str | None) -> str | None:
    if label is None:
        return None
    label = " ".join(str(label).split())  # one spelling per action: no stray or doubled spaces
    return label or None


def check_arrays(joints: Any, confidence: Any | None, timestamps: Any | None, fps: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validate and normalise one clip's arrays.

    Returns ``joints[T, 25, 3]`` float32 (one person) or ``[M, T, 25, 3]`` (``M >= 2``
    persons; ``[1, T, 25, 3]`` becomes ``[T, 25, 3]``), non-finite or unseen joints set to 0
    with confidence 0; ``confidence[T, 25]`` (``[M, T, 25]``) float32 in [0, 1];
    ``timestamps[T]`` float64 starting at 0 (from ``fps`` when None) and the frame rate
    (measured when None).  A frame where no person is seen stays in, all zeros.
    """
    j = np.asarray(joints, np.float32)
    if j.ndim == 4 and j.shape[2:] == (V, 3) and len(j) >= 1 and j.shape[1] > 0:
        lead = j.shape[:2]
    elif j.ndim == 3 and j.shape[1:] == (V, 3) and len(j) > 0:
        lead = j.shape[:1]
    else:
        raise LibraryError(f"joints must be [T>0, 25, 3] (one person) or [M, T>0, 25, 3] (M persons) in the "
                           f"NTU-25 convention, got {list(j.shape)}")
    T = lead[-1]
    c = np.ones((*lead, V), np.float32) if confidence is None else np.asarray(confidence, np.float32)
    if c.shape != (*lead, V):
        want = f"[T={T}, 25]" if len(lead) == 1 else f"[M={lead[0]}, T={T}, 25]"
        raise LibraryError(f"confidence must be {want}, got {list(c.shape)}")
    if len(lead) == 2 and lead[0] == 1:
        j, c = j[0], c[0]
    c = np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0)
    bad = ~np.isfinite(j).all(-1)
    c = np.where(bad, 0.0, c).astype(np.float32)
    j = np.where((c > 0)[..., None], np.nan_to_num(j), 0.0).astype(np.float32)
    if timestamps is None:
        rate = float(fps) if fps and fps > 0 else 30.0
        t = np.arange(T, dtype=np.float64) / rate
    else:
        t = np.asarray(timestamps, np.float64).reshape(-1)
        if t.shape != (T,):
            raise LibraryError(f"timestamps must be [T={T}], got {list(t.shape)}")
        if not np.isfinite(t).all() or (T > 1 and np.any(np.diff(t) <= 0)):
            raise LibraryError("timestamps must be finite and strictly increasing")
        t = t - t[0]
    if fps is None or not (fps > 0 and math.isfinite(fps)):
        fps = (T - 1) / t[-1] if T > 1 and t[-1] > 0 else 30.0
    return j, c, t, float(fps)


def persons_of(joints: np.ndarray) -> int:
    """Persons in a clip's ``joints``: 1 for ``[T, 25, 3]``, ``M`` for ``[M, T, 25, 3]``."""
    return 1 if np.ndim(joints) == 3 else int(np.shape(joints)[0])


def frames_of(a: np.ndarray, s: slice, persons: int) -> np.ndarray:
    """Frames ``s`` of a clip array: ``a[s]`` for one person, ``a[:, s]`` for several."""
    return a[s] if persons == 1 else a[:, s]


def make_preview(image: np.ndarray, max_side: int = 160, quality: int = 80) -> bytes:
    """A small JPEG of a BGR ``image[H, W, 3]`` uint8 (the library's preview)."""
    import cv2

    h, w = image.shape[:2]
    s = max_side / max(h, w, 1)
    if s < 1:
        image = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise LibraryError("cannot encode the preview image")
    return buf.tobytes()


def inside(root: Path, rel: str) -> Path:
    """``root / rel`` when it stays inside ``root``; a path escaping it raises LibraryError."""
    if not rel or os.path.isabs(rel) or "\\" in rel or "\x00" in rel:
        raise LibraryError(f"refusing path {rel!r}: dataset paths must be relative, inside the folder")
    root_r = root.resolve()
    p = (root / rel).resolve()
    if p != root_r and root_r not in p.parents:
        raise LibraryError(f"refusing path {rel!r}: it leads outside {root}")
    return p
