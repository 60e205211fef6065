"""PKU-MMD skeleton text files (Kinect v2, 25 joints, two people).

One line per frame of 150 numbers: person 1's 25 joints (x, y, z, metres, NTU
joint order) then person 2's.  A person absent from a frame is written as 75
zeros.  The coordinates are Kinect camera space, already the convention.
Confidence is 1 for a present person's non-zero joints and 0 otherwise (the
format carries no tracking state).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._text import parse_floats, read_lines
from .errors import SkeletonFileError

VALUES_PER_FRAME = 150


@dataclass(frozen=True)
class PkuClip:
    """One file: ``joints[M=2, T, 25, 3]`` float32 metres, ``confidence[2, T, 25]``."""

    name: str
    joints: np.ndarray
    confidence: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.joints.shape[1]

    @property
    def persons_per_frame(self) -> np.ndarray:
        """``[T]`` how many people each frame shows."""
        return (self.confidence > 0).any(axis=-1).sum(axis=0)


def read_pkummd(path: str | Path) -> PkuClip:
    """Read one PKU-MMD skeleton file; malformed files raise :class:`SkeletonFileError`."""
    path = Path(path)
    lines = read_lines(path)
    numbered = [(k, ln) for k, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise SkeletonFileError(path, "empty file: no frames")
    rows = np.empty((len(numbered), VALUES_PER_FRAME), np.float64)
    for r, (k, _) in enumerate(numbered):
        rows[r] = parse_floats(path, lines, k, 1, VALUES_PER_FRAME, "frame")[0]
    xyz = rows.reshape(-1, 2, 25, 3).transpose(1, 0, 2, 3)
    ok = np.isfinite(xyz).all(-1) & (xyz != 0).any(-1)
    joints = np.where(ok[..., None], xyz, 0.0).astype(np.float32)
    return PkuClip(path.stem, joints, ok.astype(np.float32))


def write_pkummd(joints: np.ndarray, path: str | Path, confidence: np.ndarray | None = None) -> None:
    """Write ``joints[M<=2, T, 25, 3]`` (or ``[T, 25, 3]``) as a PKU-MMD text file.

    Joints with confidence 0 are written as zeros, as the format marks absence.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim == 3:
        joints = joints[None]
    if joints.ndim != 4 or joints.shape[0] > 2 or joints.shape[2:] != (25, 3):
        raise ValueError(f"expected joints [M<=2, T, 25, 3], got {list(joints.shape)}")
    if confidence is not None:
        conf = np.asarray(confidence).reshape(joints.shape[:3])
        joints = np.where(conf[..., None] > 0, joints, 0.0)
    full = np.zeros((2,) + joints.shape[1:], np.float64)
    full[: joints.shape[0]] = joints
    rows = full.transpose(1, 0, 2, 3).reshape(full.shape[1], VALUES_PER_FRAME)
    Path(path).write_text("".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows))
