"""NW-UCLA Multiview Action3D skeleton JSON (``aAA_sSS_eEE_vVV.json``, Kinect v1, 20 joints)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kinect import KINECT_V1
from .errors import SkeletonFileError

#: Action number -> name (a07 and a10 are absent from the release).
NWUCLA_ACTIONS: dict[int, str] = {
    1: "pick up with one hand", 2: "pick up with two hands", 3: "drop trash", 4: "walk around",
    5: "sit down", 6: "stand up", 8: "donning", 9: "doffing", 11: "throw", 12: "carry",
}
_NAME = re.compile(r"^a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})$")


@dataclass(frozen=True)
class NwuclaClip:
    """One clip in the convention: ``joints[T, 25, 3]`` metres, ``confidence[T, 25]``."""

    name: str
    action: int
    subject: int
    repetition: int
    view: int
    joints: np.ndarray
    confidence: np.ndarray

    @property
    def label_name(self) -> str:
        return NWUCLA_ACTIONS[self.action]


def parse_nwucla_name(name: str) -> tuple[int, int, int, int]:
    """``"a01_s02_e03_v01"`` -> (action, subject, repetition, view)."""
    m = _NAME.match(Path(name).stem)
    if not m:
        raise SkeletonFileError(name, "name does not follow aAA_sSS_eEE_vVV.json")
    return tuple(int(g) for g in m.groups())  # type: ignore[return-value]


def read_nwucla(path: str | Path) -> NwuclaClip:
    """Read one clip; malformed files raise :class:`SkeletonFileError` naming the problem."""
    path = Path(path)
    action, subject, rep, view = parse_nwucla_name(path.name)
    try:
        text = path.read_bytes().decode("utf-8")  # JSON is UTF-8, whatever the locale says
    except OSError as e:
        raise SkeletonFileError(path, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise SkeletonFileError(path, "not a text file (invalid UTF-8)", line=line) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise SkeletonFileError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    except RecursionError:
        raise SkeletonFileError(path, "invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict) or "skeletons" not in doc:
        raise SkeletonFileError(path, "expected an object with a 'skeletons' field")
    try:
        sk = np.asarray(doc["skeletons"], dtype=np.float32)
    except (TypeError, ValueError, RecursionError, OverflowError):
        raise SkeletonFileError(path, "'skeletons' is not a [T][20][3] array of numbers") from None
    if sk.ndim != 3 or sk.shape[1:] != (20, 3) or sk.shape[0] == 0:
        raise SkeletonFileError(path, f"'skeletons' has shape {list(sk.shape)}, expected [T>0, 20, 3]")
    if action not in NWUCLA_ACTIONS:
        raise SkeletonFileError(path, f"unknown action a{action:02d}")
    label = doc.get("label")
    if label is not None and label != sorted(NWUCLA_ACTIONS).index(action) + 1:
        raise SkeletonFileError(path, f"label {label!r} does not match action a{action:02d} in the file name")
    conf = np.isfinite(sk).all(-1).astype(np.float32)
    joints, confidence = KINECT_V1.to_ntu(sk, conf)
    return NwuclaClip(path.stem, action, subject, rep, view, joints, confidence)


def write_nwucla(path: str | Path, skeletons: np.ndarray, label: int | None = None) -> None:
    """Write ``skeletons[T, 20, 3]`` (Kinect v1 order, metres) as an NW-UCLA JSON clip.

    ``label`` defaults to the 1-based label of the action in the file name.
    """
    path = Path(path)
    action = parse_nwucla_name(path.name)[0]
    if label is None:
        label = sorted(NWUCLA_ACTIONS).index(action) + 1 if action in NWUCLA_ACTIONS else 0
    sk = np.asarray(skeletons, dtype=np.float64)
    if sk.ndim != 3 or sk.shape[1:] != (20, 3):
        raise ValueError(f"expected skeletons [T, 20, 3], got {list(sk.shape)}")
    doc = {"file_name": path.stem, "skeletons": sk.tolist(), "label": int(label)}
    path.write_text(json.dumps(doc))
