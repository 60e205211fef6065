"""UTD-MHAD skeletons (``a<A>_s<S>_t<T>_skeleton.mat``, Kinect v1, 20 joints, about 30 fps).

Each file holds one MATLAB array ``d_skel`` of shape (20, 3, T) float64: joint (in the
order of ``Skeleton_joint_order.txt``, see :data:`~pose_adapters.kinect.UTD_MHAD_JOINTS`),
x/y/z in metres in Kinect camera space, frame.  The axes already are the convention's:
checked on all 861 clips (docs/datasets.md), so the ``utd_mhad`` table only reorders and
fills in joints.  Reading ``.mat`` needs SciPy, imported only when a file is read so that
the package stays numpy-only otherwise.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..kinect import UTD_MHAD
from .errors import SkeletonFileError

#: Action names, index ``a - 1`` for action number ``a`` (1-27), in the dataset's order.
UTD_ACTIONS: tuple[str, ...] = (
    "right-arm swipe to the left", "right-arm swipe to the right", "right-hand wave",
    "two-hand front clap", "right-arm throw", "cross arms in the chest", "basketball shoot",
    "right-hand draw X", "right-hand draw circle (clockwise)", "draw circle (counter-clockwise)",
    "draw triangle", "bowling (right hand)", "front boxing", "baseball swing from right",
    "tennis right-hand forehand swing", "arm curl (two arms)", "tennis serve", "two-hand push",
    "right-hand knock on door", "right-hand catch an object", "right-hand pick up and throw",
    "jogging in place", "walking in place", "sit to stand", "stand to sit",
    "forward lunge (left foot forward)", "squat (two arms stretch out)",
)
UTD_FPS = 30.0
#: Largest coordinate accepted, metres.
MAX_METRES = 100.0
_NAME = re.compile(r"^a(\d{1,2})_s(\d{1,2})_t(\d{1,2})(?:_skeleton)?$")


@dataclass(frozen=True)
class UtdClip:
    """One UTD-MHAD clip in the convention.

    name: ``"a3_s1_t1"``; action: 1-based (1-27, see :data:`UTD_ACTIONS`); subject 1-8;
    trial 1-4; joints: ``[T, V=25, C=3]`` float32 metres; confidence: ``[T, V=25]``
    (1 measured, 0.5 synthesised by the ``utd_mhad`` table); fps: frames per second.
    """

    name: str
    action: int
    subject: int
    trial: int
    joints: np.ndarray
    confidence: np.ndarray
    fps: float = UTD_FPS

    @property
    def label_name(self) -> str:
        return UTD_ACTIONS[self.action - 1]


def parse_utd_name(name: str | Path) -> tuple[int, int, int]:
    """``"a3_s1_t1_skeleton.mat"`` (or ``"a3_s1_t1"``) -> (action, subject, trial)."""
    m = _NAME.match(Path(name).name.removesuffix(".mat"))
    if not m:
        raise SkeletonFileError(name, "name does not follow a<A>_s<S>_t<T>_skeleton.mat")
    action, subject, trial = (int(g) for g in m.groups())
    if not 1 <= action <= len(UTD_ACTIONS):
        raise SkeletonFileError(name, f"unknown action a{action} (UTD-MHAD has actions 1-{len(UTD_ACTIONS)})")
    if subject < 1 or trial < 1:
        raise SkeletonFileError(name, f"subject and trial numbers start at 1, found s{subject} t{trial}")
    return action, subject, trial


def read_utd(path: str | Path) -> UtdClip:
    """Read one UTD-MHAD ``.mat`` clip; any bad input raises :class:`SkeletonFileError`."""
    path = Path(path)
    action, subject, trial = parse_utd_name(path.name)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SkeletonFileError(path, f"cannot read: {e.strerror or e}") from None
    if not data:
        raise SkeletonFileError(path, "empty file")
    from scipy.io import loadmat  # lazily: SciPy is needed for this format only

    try:
        doc = loadmat(io.BytesIO(data))
    except NotImplementedError:  # scipy's answer to MATLAB v7.3 (HDF5) files
        raise SkeletonFileError(path, "MATLAB v7.3 (HDF5) .mat files are not supported; save with -v7") from None
    except Exception as e:  # noqa: BLE001 -- scipy raises many types (ValueError, OSError, zlib.error, ...)
        raise SkeletonFileError(path, f"not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
    if "d_skel" not in doc:
        arrays = sorted(k for k in doc if not k.startswith("__"))
        raise SkeletonFileError(path, f"no 'd_skel' array (found: {', '.join(arrays) or 'none'})")
    raw = doc["d_skel"]
    if not isinstance(raw, np.ndarray) or raw.dtype.kind not in "iuf":
        kind = raw.dtype if isinstance(raw, np.ndarray) else type(raw).__name__
        raise SkeletonFileError(path, f"'d_skel' is not a numeric array (found {kind})")
    if raw.ndim != 3 or raw.shape[:2] != (20, 3) or raw.shape[2] == 0:
        raise SkeletonFileError(path, f"'d_skel' has shape {list(raw.shape)}, expected [20, 3, T>0]")
    if not np.isfinite(raw).all():
        frame = int(np.flatnonzero(~np.isfinite(raw).all(axis=(0, 1)))[0])
        raise SkeletonFileError(path, f"'d_skel' has a non-finite value (NaN or infinity) in frame {frame + 1}")
    if np.abs(raw).max() > MAX_METRES:  # Kinect v1 sees 0.8-4 m; anything huge is not metres
        raise SkeletonFileError(path, f"'d_skel' has coordinates up to {np.abs(raw).max():.3g}, "
                                      f"not metres in a room (limit {MAX_METRES:g})")
    joints, confidence = UTD_MHAD.to_ntu(raw.transpose(2, 0, 1).astype(np.float32))
    return UtdClip(f"a{action}_s{subject}_t{trial}", action, subject, trial, joints, confidence)
