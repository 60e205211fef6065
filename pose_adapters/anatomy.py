"""Anatomical sanity measures for skeletons in the convention (numpy only).

Used by the tests to prove adapters on real data.  All take ``joints[..., 25, 3]``.

The key one is :func:`handedness`.  A rotation cannot turn a body into its
mirror image, so the triple (across the hips from left to right, up the spine,
the way the feet point) has the same orientation in every proper view of a real
person: with ``forward = up x across`` the feet point forward.  A mirror image --
a left/right label swap without the matching x flip, or an axis change with
determinant -1 -- makes the feet point backwards.  (A mirrored *video* is not
caught this way: a pose estimator sees a plausible person in it, the subject's
mirror twin; only the source's ``mirrored`` property can set that right.)
"""
from __future__ import annotations

import numpy as np

from .convention import JOINT_INDEX

_J = JOINT_INDEX

#: Limbs as (from, to) joint names, for direction comparisons across sources.
LIMBS: tuple[tuple[str, str], ...] = (
    ("spine_base", "spine_shoulder"), ("spine_shoulder", "head"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 1e-9)


def forward_direction(joints: np.ndarray) -> np.ndarray:
    """``[..., 3]`` unit vector the body faces: up (spine) x across (left hip -> right hip)."""
    j = np.asarray(joints, np.float64)
    across = j[..., _J["right_hip"], :] - j[..., _J["left_hip"], :]
    up = j[..., _J["spine_shoulder"], :] - j[..., _J["spine_base"], :]
    return _unit(np.cross(up, across))


def handedness(joints: np.ndarray) -> np.ndarray:
    """``[...]`` mean cosine between the feet (ankle -> foot) and :func:`forward_direction`.

    Positive for a real person, negative for a mirror image.
    """
    j = np.asarray(joints, np.float64)
    fwd = forward_direction(j)
    feet = [_unit(j[..., _J[f"{s}_foot"], :] - j[..., _J[f"{s}_ankle"], :]) for s in ("left", "right")]
    return sum((f * fwd).sum(-1) for f in feet) / 2


def limb_directions(joints: np.ndarray, limbs: tuple[tuple[str, str], ...] = LIMBS) -> np.ndarray:
    """``[..., L, 3]`` unit vectors along ``limbs`` (zeros for zero-length limbs)."""
    j = np.asarray(joints, np.float64)
    return _unit(np.stack([j[..., _J[b], :] - j[..., _J[a], :] for a, b in limbs], axis=-2))


def left_right_consistent(joints: np.ndarray) -> np.ndarray:
    """``[...]`` bool: the left shoulder lies on the same side of the body as the left hip."""
    j = np.asarray(joints, np.float64)
    shoulders = j[..., _J["left_shoulder"], :] - j[..., _J["right_shoulder"], :]
    hips = j[..., _J["left_hip"], :] - j[..., _J["right_hip"], :]
    return (shoulders * hips).sum(-1) > 0
