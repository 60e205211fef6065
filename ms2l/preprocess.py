"""The one preprocessing function: skeletons in the convention -> model input.

Training, offline evaluation and live inference all call :func:`prepare`, so a
model always sees its input the way it was trained.
"""
from __future__ import annotations

import numpy as np

from pose_adapters import normalize

from .config import ModelConfig


def resample(seq: np.ndarray, src_fps: float, dst_fps: float, axis: int = 0) -> np.ndarray:
    """Linearly resample ``seq`` along ``axis`` from ``src_fps`` to ``dst_fps``."""
    n = seq.shape[axis]
    if n < 2 or abs(src_fps - dst_fps) < 1e-6:
        return seq
    m = max(1, int(round((n - 1) * dst_fps / src_fps)) + 1)
    t = np.linspace(0.0, n - 1, m)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (t - lo).astype(seq.dtype)
    shape = [1] * seq.ndim
    shape[axis] = m
    w = w.reshape(shape)
    return np.take(seq, lo, axis=axis) * (1 - w) + np.take(seq, hi, axis=axis) * w


def prepare(
    joints: np.ndarray,
    confidence: np.ndarray | None,
    config: ModelConfig,
    source_fps: float | None = None,
) -> np.ndarray:
    """Turn a skeleton sequence into model input ``x[T', M, V, C]`` float32.

    ``joints`` is ``[T, 25, 3]`` (one person) or ``[M, T, 25, 3]`` in the
    project convention, ``confidence`` ``[.., T, 25]`` or None (all seen).  The
    clip is normalised (:func:`pose_adapters.normalize`), persons are padded or
    cut to ``config.persons``, frames without anybody are dropped and the rest
    resampled from ``source_fps`` to ``config.fps``.  ``T'`` may be 0.
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim == 3:
        joints = joints[None]
        if confidence is not None:
            confidence = np.asarray(confidence)[None]
    if joints.shape[-2:] != (config.joints, config.coords):
        raise ValueError(
            f"model expects {config.joints} joints x {config.coords} coordinates per person "
            f"({config.layout}), got {list(joints.shape[-2:])}"
        )
    x, valid = normalize(joints, confidence, rotate=config.normalization)  # [M, T, V, C]
    M = config.persons
    if x.shape[0] < M:
        x = np.concatenate([x, np.zeros((M - x.shape[0], *x.shape[1:]), np.float32)])
    x = np.ascontiguousarray(x[:M].transpose(1, 0, 2, 3)[valid])  # [T', M, V, C]
    if source_fps is not None:
        x = resample(x, source_fps, config.fps).astype(np.float32)
    return x


#: The share of training clips (percentile of their lengths) the live window spans: all of them
#: (up to the training crop).  The 90th percentile cut UTD-MHAD's longest tenth of test clips
#: short and cost streaming AUROC 0.014, top-1 0.9 and agreement 1.2 points
#: (benchmarks/results/openset_window100.md).
WINDOW_PERCENTILE = 100.0


def live_window(lengths: "np.ndarray | list[int]", cap: int, percentile: float = WINDOW_PERCENTILE) -> dict[str, int]:
    """The live window a model should be served with, from its training clips' lengths (frames at its rate).

    Train what you serve: the window spans the longest training clips (the ``percentile``
    of their lengths, at most ``cap``, the training crop), and the first
    decision comes after about the shortest (0.9 x the 10th percentile), so a short gesture
    played once is named and a window looks like the clips the model learnt from.
    """
    if not 50 <= percentile <= 100:
        raise ValueError(f"percentile must be in [50, 100], got {percentile}")
    lengths = np.asarray(lengths, float)
    if len(lengths) == 0:
        return {"window": int(cap), "min_frames": int(cap)}
    window = int(np.clip(np.ceil(np.percentile(lengths, percentile)), 8, cap))
    min_frames = int(np.clip(np.floor(0.9 * np.percentile(lengths, 10)), 4, window))
    return {"window": window, "min_frames": min_frames}
