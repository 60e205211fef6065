"""SBU Kinect Interaction skeletons (``s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt``, 15 fps).

Each line: the frame number, then 2 persons x 15 joints x (x, y, z), comma separated
(91 fields).  The coordinates are normalised; the dataset's inverse gives millimetres::

    x = 1280 - x_n * 2560,   y = 960 - y_n * 1920,   z = z_n * 10000 / 7.8125

Checked on all 282 takes (docs/datasets.md): this inverse keeps every bone's length
constant to 2.6 % (any other x : y : z ratio does worse), gives adult bone lengths
(thigh 0.43 m, upper arm 0.29 m), and its axes already are Kinect camera axes -- y up,
and with the file's left/right labels the two people face each other and shake right
hands.  So no axis flip and no left/right swap; the ``sbu15`` table
(:data:`~pose_adapters.kinect.SBU15`) takes millimetres to metres and fills in joints.
The two persons' order carries no role: the one who approaches, kicks or punches is
the first person in about half the takes and the second in the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kinect import SBU15
from ._text import read_lines
from .errors import SkeletonFileError

#: Class names, index ``label - 1`` for class folders 01-08.
SBU_ACTIONS: tuple[str, ...] = (
    "approaching", "departing", "kicking", "pushing", "shaking hands", "hugging",
    "exchanging an object", "punching",
)
SBU_FPS = 15.0
SBU_PERSONS = 2
SBU_JOINTS = 15
_FIELDS = 1 + SBU_PERSONS * SBU_JOINTS * 3
_PAIR = re.compile(r"^s(\d{2})s(\d{2})$")
_CLASS = re.compile(r"^(\d{2})$")
_TAKE = re.compile(r"^(\d{3})$")

#: The dataset's inverse normalisation: millimetres = offset + scale * normalised, per axis.
_MM_OFFSET = np.array([1280.0, 960.0, 0.0])
_MM_SCALE = np.array([-2560.0, -1920.0, 10000.0 / 7.8125])


@dataclass(frozen=True)
class SbuClip:
    """One SBU take in the convention.

    name: ``"s01s02_01_001"``; label: class 1-8 (see :data:`SBU_ACTIONS`); pair: the two
    actors' numbers (PP, QQ) from the folder name; take: take number;
    joints: ``[M=2, T, V=25, C=3]`` float32 metres; confidence: ``[M=2, T, V=25]``
    (1 measured, 0.5 synthesised by the ``sbu15`` table); frames: ``[T]`` the file's
    frame numbers; fps: frames per second.
    """

    name: str
    label: int
    pair: tuple[int, int]
    take: int
    joints: np.ndarray
    confidence: np.ndarray
    frames: np.ndarray
    fps: float = SBU_FPS

    @property
    def label_name(self) -> str:
        return SBU_ACTIONS[self.label - 1]


def parse_sbu_path(path: str | Path) -> tuple[tuple[int, int], int, int]:
    """``".../s01s02/05/001/skeleton_pos.txt"`` -> ((1, 2), 5, 1): (pair, label, take)."""
    parts = Path(path).parts
    if len(parts) < 4 or parts[-1] != "skeleton_pos.txt":
        raise SkeletonFileError(path, "path does not follow s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt")
    pair, cls, take = _PAIR.match(parts[-4]), _CLASS.match(parts[-3]), _TAKE.match(parts[-2])
    if not (pair and cls and take):
        raise SkeletonFileError(path, "path does not follow s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt "
                                      f"(found {'/'.join(parts[-4:])})")
    label = int(cls.group(1))
    if not 1 <= label <= len(SBU_ACTIONS):
        raise SkeletonFileError(path, f"unknown class folder {cls.group(1)} (SBU has 01-{len(SBU_ACTIONS):02d})")
    return (int(pair.group(1)), int(pair.group(2))), label, int(take.group(1))


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(frame numbers [T], normalised values [T, 90])``; every problem names its line."""
    lines = read_lines(path)
    rows = [(k + 1, ln) for k, ln in enumerate(lines) if ln.strip()]
    if not rows:
        raise SkeletonFileError(path, "empty file: no frame lines")
    values = np.empty((len(rows), _FIELDS), np.float64)
    for r, (line, text) in enumerate(rows):
        fields = text.strip().rstrip(",").split(",")  # tolerate one trailing comma
        if len(fields) != _FIELDS:
            raise SkeletonFileError(
                path, f"expected {_FIELDS} comma-separated fields (frame number + 2 persons x 15 joints x 3), "
                      f"found {len(fields)}", line=line)
        for c, f in enumerate(fields):
            try:
                values[r, c] = float(f)
            except ValueError:
                what = "frame number" if c == 0 else f"coordinate {c}"
                raise SkeletonFileError(path, f"{what}: {f.strip()[:40]!r} is not a number", line=line) from None
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise SkeletonFileError(path, "non-finite value (NaN or infinity)", line=rows[int(np.flatnonzero(bad)[0])][0])
    frames = values[:, 0]
    if (frames != np.round(frames)).any() or (frames < 0).any():
        r = int(np.flatnonzero((frames != np.round(frames)) | (frames < 0))[0])
        raise SkeletonFileError(path, f"frame number {frames[r]:g} is not a whole number >= 0", line=rows[r][0])
    back = np.flatnonzero(np.diff(frames) <= 0)
    if back.size:
        r = int(back[0]) + 1
        raise SkeletonFileError(path, f"frame number {frames[r]:g} does not follow {frames[r - 1]:g}", line=rows[r][0])
    if np.abs(values[:, 1:]).max() > 100.0:  # normalised values lie within about [-0.2, 2.5]
        r = int(np.flatnonzero(np.abs(values[:, 1:]).max(axis=1) > 100.0)[0])
        raise SkeletonFileError(path, "coordinate beyond 100: not normalised SBU coordinates", line=rows[r][0])
    return frames.astype(np.int64), values[:, 1:]


def read_sbu(path: str | Path) -> SbuClip:
    """Read one SBU take; any bad input raises :class:`SkeletonFileError` naming file and line."""
    path = Path(path)
    pair, label, take = parse_sbu_path(path)
    frames, values = _parse(path)
    # [T, M*V*C] -> [M, T, V, C], then the dataset's inverse normalisation to millimetres.
    norm = values.reshape(len(frames), SBU_PERSONS, SBU_JOINTS, 3).transpose(1, 0, 2, 3)
    mm = _MM_OFFSET + _MM_SCALE * norm
    out = [SBU15.to_ntu(mm[m].astype(np.float32)) for m in range(SBU_PERSONS)]
    joints = np.stack([j for j, _ in out])
    confidence = np.stack([c for _, c in out])
    name = f"s{pair[0]:02d}s{pair[1]:02d}_{label:02d}_{take:03d}"
    return SbuClip(name, label, pair, take, joints, confidence, frames)
