"""Training-time augmentation of prepared clips ``x[T, M, V, C]`` (body-centred coordinates).

The base views (yaw, scale, shear, temporal crop, speed) are always on when a recipe
augments.  The additions below are switchable by name (``Recipe.views``,
``ms2l pretrain/train --views jitter,mask``) so each can be ablated on the few-shot
benchmark; all are off by default:

=========  ====================================================================
name       what
=========  ====================================================================
tilt       roll and pitch of up to ``tilt_deg`` (a camera above or below the person)
jitter     Gaussian noise of ``jitter`` (body-size units) on every joint and frame
dropout    each joint hidden (zeroed) for the whole clip with probability ``joint_dropout``
mask       one body part (an arm, a leg, the trunk) zeroed in a random stretch of frames
mirror     half the clips flipped left-right (x negated, left and right joints swapped)
swap       two-person clips: half of them with the persons' order swapped, re-expressed in the
           new first person's body frame (SBU's order carries no role)
=========  ====================================================================
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from pose_adapters import normalize
from pose_adapters.convention import JOINT_INDEX, MIRROR_PERMUTATION

from .config import VIEWS
from .errors import ConfigError
from .preprocess import resample

#: Body parts for ``mask`` (NTU-25 indices).
BODY_PARTS: tuple[tuple[int, ...], ...] = tuple(
    tuple(JOINT_INDEX[n] for n in names) for names in (
        ("left_shoulder", "left_elbow", "left_wrist", "left_hand", "left_hand_tip", "left_thumb"),
        ("right_shoulder", "right_elbow", "right_wrist", "right_hand", "right_hand_tip", "right_thumb"),
        ("left_hip", "left_knee", "left_ankle", "left_foot"),
        ("right_hip", "right_knee", "right_ankle", "right_foot"),
        ("spine_base", "spine_mid", "spine_shoulder", "neck", "head"),
    ))


@dataclass(frozen=True)
class Augment:
    """Random view, size and timing changes.  Defaults measured on NW-UCLA (see README)."""

    yaw_deg: float = 30.0
    scale: float = 0.1
    shear: float = 0.1
    crop_min: float = 0.8
    speed: float = 0.2
    tilt_deg: float = 0.0
    jitter: float = 0.0
    joint_dropout: float = 0.0
    part_mask: float = 0.0      # probability of masking one body part
    mirror: float = 0.0         # probability of a left-right flip
    swap: float = 0.0           # probability of swapping two persons

    @classmethod
    def with_views(cls, names: Iterable[str] = ()) -> "Augment":
        """The base augmentation plus the named additions at their measured strengths."""
        on = {"tilt": {"tilt_deg": 15.0}, "jitter": {"jitter": 0.01}, "dropout": {"joint_dropout": 0.05},
              "mask": {"part_mask": 0.5}, "mirror": {"mirror": 0.5}, "swap": {"swap": 0.5}}
        kw: dict[str, float] = {}
        for n in names:
            if n not in on:
                raise ConfigError(f"unknown augmentation view {n!r}; choose from {', '.join(VIEWS)}")
            kw.update(on[n])
        return dataclasses.replace(cls(), **kw)

    def __call__(self, x: np.ndarray, rng: np.random.Generator, max_frames: int | None = None) -> np.ndarray:
        if self.swap > 0 and x.shape[1] == 2 and rng.random() < self.swap:
            x = swap_persons(x)
        T = x.shape[0]
        if T > 1 and self.speed > 0:
            factor = rng.uniform(1 - self.speed, 1 + self.speed)
            x = resample(x, factor, 1.0)
        T = x.shape[0]
        keep = max(1, int(round(T * rng.uniform(self.crop_min, 1.0)))) if self.crop_min < 1 else T
        if max_frames is not None:
            keep = min(keep, max_frames)
        start = int(rng.integers(0, T - keep + 1))
        x = x[start:start + keep]
        a = np.deg2rad(rng.uniform(-self.yaw_deg, self.yaw_deg))
        c, s = np.cos(a), np.sin(a)
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
        shear = np.eye(3, dtype=np.float32) + rng.uniform(-self.shear, self.shear, (3, 3)).astype(np.float32) * (1 - np.eye(3, dtype=np.float32))
        scale = np.diag(rng.uniform(1 - self.scale, 1 + self.scale, 3)).astype(np.float32)
        m = rot @ shear @ scale
        if self.tilt_deg > 0:
            r, p = np.deg2rad(rng.uniform(-self.tilt_deg, self.tilt_deg, 2))
            roll = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]], np.float32)
            pitch = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]], np.float32)
            m = roll @ pitch @ m
        x = (x @ m.T).astype(np.float32)
        if x.shape[-2] == MIRROR_PERMUTATION.shape[0]:  # the part tables are NTU-25 ones
            if self.mirror > 0 and rng.random() < self.mirror:
                x = x[:, :, MIRROR_PERMUTATION] * np.array([-1, 1, 1], np.float32)
            if self.part_mask > 0 and rng.random() < self.part_mask:
                part = list(BODY_PARTS[int(rng.integers(len(BODY_PARTS)))])
                n = max(1, int(round(len(x) * rng.uniform(0.3, 1.0))))
                t0 = int(rng.integers(0, len(x) - n + 1))
                x = x.copy()
                x[t0:t0 + n, :, part] = 0.0
        if self.joint_dropout > 0:
            keep = rng.random(x.shape[-2]) >= self.joint_dropout
            x = x * keep[None, None, :, None].astype(np.float32)
        if self.jitter > 0:
            x = x + rng.normal(0.0, self.jitter, x.shape).astype(np.float32)
        return x.astype(np.float32)


def swap_persons(x: np.ndarray) -> np.ndarray:
    """``x[T, 2, V, C]`` with the persons in the other order, in the new first person's body frame.

    Prepared clips are in the first person's frame (:func:`pose_adapters.normalize`), so the
    swapped clip is normalised again as a live two-person window with that order would be.
    Zeros stand for missing joints in prepared clips and stay missing.
    """
    if x.shape[-2] != 25:  # the reference joints are NTU-25 ones
        return x[:, ::-1].copy()
    joints = x[:, ::-1].transpose(1, 0, 2, 3)                      # [M, T, V, C]
    seen = (joints != 0).any(axis=-1).astype(np.float32)           # [M, T, V]
    out, _ = normalize(joints, seen)
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3))         # [T, M, V, C]


def crop(x: np.ndarray, max_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """At most ``max_frames`` frames: a random stretch with ``rng``, else the middle one."""
    T = x.shape[0]
    if T <= max_frames:
        return x
    start = int(rng.integers(0, T - max_frames + 1)) if rng is not None else (T - max_frames) // 2
    return x[start:start + max_frames]
