"""The one normalisation used by training, evaluation and live inference.

Camera-space skeletons differ by where the camera stands; the classifier should
not have to learn that.  :func:`normalize` moves a clip into a body-centred
frame taken from its first frames: origin at the spine base, unit length = the
spine (spine base -> spine shoulder), and -- with ``rotate="body"`` -- axes
with ``x`` from the left hip to the right hip, ``y`` up the spine and ``z``
completing a right-handed frame, i.e. the subject seen from the front in the
convention's camera axes.  ``rotate="yaw"`` only turns about the vertical axis
(camera ``y``) so the hips face the camera; ``rotate="none"`` only centres and
scales.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .convention import JOINT_INDEX

Rotation = Literal["body", "yaw", "none"]

_BASE, _TOP = JOINT_INDEX["spine_base"], JOINT_INDEX["spine_shoulder"]
_LHIP, _RHIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]
_REFERENCE_JOINTS = [_BASE, _TOP, _LHIP, _RHIP]
#: How many of the first usable frames define the reference frame (averaged against jitter).
REFERENCE_FRAMES = 3


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 and np.isfinite(n) else None


def body_frame(
    joints: np.ndarray, confidence: np.ndarray, rotate: Rotation = "body"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Origin ``[3]``, rotation ``[3, 3]`` (rows are the new axes) and scale of one person's clip.

    ``joints[T, 25, 3]``, ``confidence[T, 25]``.  Falls back gracefully: with no
    frame showing hips and spine, the origin is the mean of the visible joints
    and neither rotation nor scale is applied.
    """
    ok = (confidence[:, _REFERENCE_JOINTS] > 0).all(axis=1)
    frames = np.flatnonzero(ok)[:REFERENCE_FRAMES]
    if len(frames) == 0:
        seen = confidence > 0
        origin = joints[seen].mean(axis=0) if seen.any() else np.zeros(3, np.float32)
        return origin.astype(np.float32), np.eye(3, dtype=np.float32), 1.0
    ref = joints[frames].mean(axis=0)
    origin = ref[_BASE]
    scale = float(np.linalg.norm(ref[_TOP] - ref[_BASE]))
    if not (scale > 1e-3 and np.isfinite(scale)):
        scale = 1.0
    rot = np.eye(3, dtype=np.float32)
    across = ref[_RHIP] - ref[_LHIP]
    if rotate == "body":
        y = _unit(ref[_TOP] - ref[_BASE])
        if y is not None:
            x = _unit(across - np.dot(across, y) * y)
            if x is not None:
                rot = np.stack([x, y, np.cross(x, y)]).astype(np.float32)
    elif rotate == "yaw":
        x = _unit(np.array([across[0], 0.0, across[2]]))
        if x is not None:
            y = np.array([0.0, 1.0, 0.0])
            rot = np.stack([x, y, np.cross(x, y)]).astype(np.float32)
    elif rotate != "none":
        raise ValueError(f"rotate must be 'body', 'yaw' or 'none', not {rotate!r}")
    return origin.astype(np.float32), rot, scale


def normalize(
    joints: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    rotate: Rotation = "body",
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise ``joints[T, 25, 3]`` or ``[M, T, 25, 3]`` (confidence ``[.., T, 25]``).

    Returns ``(normalised joints, same shape, float32; valid[T] bool)`` where
    ``valid`` marks frames in which any person was seen.  Every person is moved
    with the first person's frame, so their relative placement is kept.  Missing
    joints (confidence 0) and non-finite values come out as zeros.
    """
    joints = np.asarray(joints, dtype=np.float32)
    single = joints.ndim == 3
    if single:
        joints = joints[None]
    if joints.ndim != 4 or joints.shape[-2:] != (25, 3):
        raise ValueError(f"expected joints [T, 25, 3] or [M, T, 25, 3], got {list(joints.shape)}")
    if confidence is None:
        confidence = np.ones(joints.shape[:-1], np.float32)
    else:
        confidence = np.asarray(confidence, dtype=np.float32)
        if single:
            confidence = confidence[None]
        if confidence.shape != joints.shape[:-1]:
            raise ValueError(f"confidence shape {list(confidence.shape)} does not match joints {list(joints.shape)}")
    finite = np.isfinite(joints).all(axis=-1)
    present = finite & (np.nan_to_num(confidence) > 0)
    joints = np.where(present[..., None], joints, 0.0)
    # Reference: the first person that is ever seen with a usable body.
    person = next((m for m in range(joints.shape[0]) if present[m].any()), 0)
    origin, rot, scale = body_frame(joints[person], present[person].astype(np.float32), rotate)
    with np.errstate(over="ignore", invalid="ignore"):
        out = ((joints - origin) @ rot.T) / scale
    # Finite but absurd input (a joint 1e38 m away) can overflow here: such a joint counts as missing.
    present &= np.isfinite(out).all(axis=-1)
    out = np.where(present[..., None], out, 0.0).astype(np.float32)
    valid = present.any(axis=(0, 2))
    return (out[0] if single else out), valid
