"""Training-time augmentation of prepared clips ``x[T, M, V, C]`` (body-centred coordinates)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocess import resample


@dataclass(frozen=True)
class Augment:
    """Random view, size and timing changes.  Defaults measured on NW-UCLA (see README)."""

    yaw_deg: float = 30.0
    scale: float = 0.1
    shear: float = 0.1
    crop_min: float = 0.8
    speed: float = 0.2

    def __call__(self, x: np.ndarray, rng: np.random.Generator, max_frames: int | None = None) -> np.ndarray:
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
        return (x @ m.T).astype(np.float32)


def crop(x: np.ndarray, max_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """At most ``max_frames`` frames: a random stretch with ``rng``, else the middle one."""
    T = x.shape[0]
    if T <= max_frames:
        return x
    start = int(rng.integers(0, T - max_frames + 1)) if rng is not None else (T - max_frames) // 2
    return x[start:start + max_frames]
