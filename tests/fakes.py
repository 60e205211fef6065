"""Deterministic stand-ins for the camera and the pose estimator (no MediaPipe, no device)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from app.live.sources import SourceError
from app.types import Frame, PoseResult
from ms2l.checkpoint import save_model
from ms2l.config import ModelConfig
from ms2l.model import MS2L

LABELS = ("wave", "clap", "squat")


def tiny_model(path: Path, labels: tuple[str, ...] = LABELS, seed: int = 0, **cfg) -> Path:
    """Save a small random classifier (hidden 32, one layer) and return its path."""
    import torch

    torch.manual_seed(seed)
    config = ModelConfig(labels=labels, hidden=32, layers=1, **{"window": 16, **cfg})
    return save_model(MS2L(config, with_ssl_heads=False), path, include_ssl_heads=False)


def body(t: float, person: int = 0) -> np.ndarray:
    """A plausible standing NTU-25 skeleton ``[25, 3]`` whose arms swing with time ``t``."""
    rng = np.random.default_rng(person)
    base = np.zeros((25, 3), np.float32)
    # spine base at 1 m height, 2.5 m from the camera; x grows to the camera's left.
    ys = {0: 1.0, 1: 1.25, 20: 1.45, 2: 1.52, 3: 1.65, 12: 1.0, 16: 1.0, 13: 0.55, 17: 0.55, 14: 0.1, 18: 0.1,
          15: 0.05, 19: 0.05, 4: 1.45, 8: 1.45, 5: 1.2, 9: 1.2, 6: 1.0, 10: 1.0, 7: 0.95, 11: 0.95,
          21: 0.9, 22: 0.92, 23: 0.9, 24: 0.92}
    for j, y in ys.items():
        base[j, 1] = y
    left = [4, 5, 6, 7, 12, 13, 14, 15, 21, 22]
    right = [8, 9, 10, 11, 16, 17, 18, 19, 23, 24]
    base[left, 0] = -0.18
    base[right, 0] = 0.18
    base[:, 2] = 2.5
    swing = 0.3 * np.sin(2 * np.pi * 0.5 * t)
    base[[6, 7, 21, 22], 1] += swing
    base[[10, 11, 23, 24], 1] -= swing
    return base + rng.normal(0, 0.002, base.shape).astype(np.float32)


class FakeSource:
    """Frames at ``fps`` with media time ``index / fps``; ``person(i)`` says who is in frame i.

    The image encodes the frame index in its first pixel so the fake pose can read it back.
    ``fail_after``: raise SourceError (a camera unplugged) once that many frames were read.
    ``delay``: seconds each read takes (a camera's frame period).
    """

    def __init__(self, n: int = 100, fps: float = 30.0, person=lambda i: True, fail_after: int | None = None,
                 delay: float = 0.0, live: bool = False, name: str = "fake", mirrored: bool = False):
        self.n, self.fps, self.person, self.fail_after, self.delay = n, fps, person, fail_after, delay
        self.live, self.name, self.mirrored = live, name, mirrored
        self.frame_count = n
        self.i = 0
        self.closed = False

    def read(self) -> Frame | None:
        if self.closed:
            raise SourceError("closed")
        if self.fail_after is not None and self.i >= self.fail_after:
            raise SourceError(f"{self.name} stopped delivering frames")
        if self.i >= self.n:
            return None
        if self.delay:
            time.sleep(self.delay)
        img = np.zeros((48, 64, 3), np.uint8)
        img[0, 0, 0] = 255 if self.person(self.i) else 0
        f = Frame(image=img, t=self.i / self.fps, index=self.i, source=self.name)
        self.i += 1
        return f

    def close(self) -> None:
        self.closed = True


class FakePose:
    """A pose estimator that finds the fake person when the frame's first pixel says so.

    Emits ``kinect_v2`` layout (the identity adapter), so the runtime's generic adapter maps it.
    ``delay``: seconds per frame (a slow pose stage).
    """

    instances: list["FakePose"] = []

    def __init__(self, mirrored: bool = False, delay: float = 0.0):
        self.mirrored, self.delay = mirrored, delay
        self.calls: list[int] = []
        self.closed = False
        FakePose.instances.append(self)

    def process(self, frame: Frame) -> PoseResult:
        self.calls.append(frame.index)
        if self.delay:
            time.sleep(self.delay)
        if frame.image[0, 0, 0] == 0:
            return PoseResult(frame_index=frame.index, t=frame.t, points=None, image_points=None, confidence=None,
                              layout="kinect_v2", mirrored=self.mirrored)
        pts = body(frame.t)
        ip = np.stack([320 - pts[:, 0] * 200, 400 - pts[:, 1] * 200], 1).astype(np.float32)
        return PoseResult(frame_index=frame.index, t=frame.t, points=pts, image_points=ip,
                          confidence=np.ones(25, np.float32), layout="kinect_v2", mirrored=self.mirrored)

    def close(self) -> None:
        self.closed = True


def pose_factory(delay: float = 0.0):
    def make(mirrored: bool = False) -> FakePose:
        return FakePose(mirrored=mirrored, delay=delay)
    return make


def tiny_encoder(path: Path, seed: int = 0, window: int = 32) -> Path:
    """Save a small random encoder file (hidden 32, one layer) standing in for the default model's."""
    import torch

    torch.manual_seed(seed)
    return save_model(MS2L(ModelConfig(hidden=32, layers=1, window=window)), path, {"kind": "encoder"})


def run_in_process(main, *args: object) -> tuple[int, str, str]:  # noqa: ANN001 - a CLI main(argv) -> int
    """A command line's ``main(ARGS)`` run in this process (torch imported once): (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()
