"""Fakes for the UI tests: a runtime and a source with the real ones' API, and no threads.

(Named ``test_ui_*`` so it sits with the UI tests; it holds no tests itself.)
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.types import ActionEvent, ActionState, Frame, Prediction, Skeleton

LABELS = ("jumping jacks", "squat", "wave", "clap", "walk", "sit down", "stand up")


class SourceError(RuntimeError):
    """Same name as ``app.live.sources.SourceError`` (the window shows its message as is)."""


class FakeSource:
    """Solid-colour frames, numbered, ``t = index / fps``."""

    def __init__(self, name: str = "fake.avi", color: tuple[int, int, int] = (0, 0, 200), size=(160, 120),
                 fps: float = 10.0, mirrored: bool = False, loop: bool = False) -> None:
        self.name, self.color, self.size, self.fps = name, color, size, fps
        self.mirrored, self.loop = mirrored, loop
        self.index = 0
        self.closed = False

    def read(self) -> Frame | None:
        img = np.empty((self.size[1], self.size[0], 3), np.uint8)
        img[:] = self.color  # BGR
        f = Frame(image=img, t=self.index / self.fps, index=self.index, source=self.name)
        self.index += 1
        return f

    def close(self) -> None:
        self.closed = True


def fake_opener(spec: str, **kw: Any) -> FakeSource:
    """Stands in for ``app.live.sources.open_source``: "bad..." specs fail like a corrupt file."""
    if "bad" in spec:
        raise SourceError(f"cannot read {spec}: not a video OpenCV can decode (corrupt or unsupported)")
    colors = {"red": (0, 0, 220), "green": (0, 200, 0), "blue": (220, 0, 0)}
    color = next((c for k, c in colors.items() if k in spec), (128, 128, 128))
    return FakeSource(name=spec, color=color, loop=kw.get("loop", False))


@dataclass
class FakeStats:
    source: str = ""
    model: str = "default"
    device: str = "cpu"
    camera_fps: float | None = None
    processing_fps: float | None = None
    latency_ms: float | None = None
    dropped: int = 0
    frames: int = 0


@dataclass
class FakeSnapshot:
    frame: Frame | None = None
    skeleton: Skeleton | None = None
    prediction: Prediction | None = None
    state: ActionState | None = None
    events: tuple[ActionEvent, ...] = ()
    stats: FakeStats = field(default_factory=FakeStats)


def skeleton_at(t: float, w: int = 160, h: int = 120) -> Skeleton:
    """A standing stick figure filling the middle of a ``w`` x ``h`` frame."""
    from pose_adapters.convention import JOINT_INDEX

    pts = np.zeros((25, 2), np.float32)
    cx = w / 2
    place = {
        "head": (cx, 0.12 * h), "neck": (cx, 0.22 * h), "spine_shoulder": (cx, 0.27 * h), "spine_mid": (cx, 0.45 * h),
        "spine_base": (cx, 0.6 * h),
        "left_shoulder": (cx + 0.12 * w, 0.28 * h), "left_elbow": (cx + 0.2 * w, 0.42 * h),
        "left_wrist": (cx + 0.25 * w, 0.55 * h), "left_hand": (cx + 0.26 * w, 0.58 * h),
        "left_hand_tip": (cx + 0.27 * w, 0.61 * h), "left_thumb": (cx + 0.24 * w, 0.6 * h),
        "right_shoulder": (cx - 0.12 * w, 0.28 * h), "right_elbow": (cx - 0.2 * w, 0.42 * h),
        "right_wrist": (cx - 0.25 * w, 0.55 * h), "right_hand": (cx - 0.26 * w, 0.58 * h),
        "right_hand_tip": (cx - 0.27 * w, 0.61 * h), "right_thumb": (cx - 0.24 * w, 0.6 * h),
        "left_hip": (cx + 0.07 * w, 0.6 * h), "left_knee": (cx + 0.08 * w, 0.77 * h),
        "left_ankle": (cx + 0.08 * w, 0.92 * h), "left_foot": (cx + 0.12 * w, 0.95 * h),
        "right_hip": (cx - 0.07 * w, 0.6 * h), "right_knee": (cx - 0.08 * w, 0.77 * h),
        "right_ankle": (cx - 0.08 * w, 0.92 * h), "right_foot": (cx - 0.12 * w, 0.95 * h),
    }
    for name, xy in place.items():
        pts[JOINT_INDEX[name]] = xy
    conf = np.linspace(0.3, 1.0, 25).astype(np.float32)
    return Skeleton(t=t, frame_index=0, joints=np.zeros((25, 3), np.float32), confidence=conf, image_points=pts)


def state_for(t: float, action: str | None, p: float = 0.8, labels: tuple[str, ...] = LABELS) -> ActionState:
    """An ``action`` state with probability ``p`` on ``action`` and the rest spread out."""
    probs = np.full(len(labels), (1 - p) / (len(labels) - 1))
    if action is not None:
        probs[labels.index(action)] = p
        return ActionState(t=t, state="action", action=action, probs=probs, labels=labels)
    return ActionState(t=t, state="unknown", action=None, probs=np.full(len(labels), 1 / len(labels)), labels=labels)


class FakeRuntime:
    """Synchronous stand-in for ``app.live.runtime.Runtime``: each ``snapshot()`` reads one frame.

    Tests drive predictions with :meth:`push_state` and errors with :meth:`push_error`,
    and inspect the calls the window made (``opened``, ``models``, ``updates``).
    """

    def __init__(self, model: str = "default", *, draw_skeleton: bool = False, async_models: bool = False) -> None:
        self.model = model
        self.source: Any = None
        self.opened: list[Any] = []
        self.models: list[str] = []
        self.updates: list[dict] = []
        self.paused = False
        self.closed = False
        self.draw_skeleton = draw_skeleton
        self.bad_models: set[str] = {"broken.safetensors"}
        self.async_models = async_models  # like the real runtime: set_model returns a Future
        self.loads: list[tuple[str, Future]] = []
        self._state: ActionState | None = None
        self._errors: list[Exception] = []
        self._frame: Frame | None = None
        self.snapshots = 0

    # API used by the window
    def open(self, source: Any) -> None:
        if self.source is not None:
            self.source.close()
        self.source = source
        self.opened.append(source)
        self._frame, self._state = None, None

    def close(self) -> None:
        self.closed = True

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def set_model(self, model: str) -> Future | None:
        if self.async_models:
            fut: Future = Future()
            self.loads.append((model, fut))
            return fut
        if Path(model).name in self.bad_models:
            raise ValueError(f"{model}: weights do not match the config")
        self.model = model
        self.models.append(model)
        return None

    def finish_load(self) -> None:
        """Complete the oldest background model load (failing, as the real one does, for bad models)."""
        model, fut = self.loads.pop(0)
        if Path(model).name in self.bad_models:
            err = ValueError(f"{model}: weights do not match the config")
            self._errors.append(err)
            fut.set_exception(err)
        else:
            self.model = model
            self.models.append(model)
            fut.set_result(None)

    def update_settings(self, **kw: Any) -> None:
        self.updates.append(kw)

    def poll_errors(self) -> list[Exception]:
        out, self._errors = self._errors, []
        return out

    def snapshot(self) -> FakeSnapshot:
        self.snapshots += 1
        if self.source is not None and not self.paused:
            self._frame = self.source.read() or self._frame
        f = self._frame
        sk = skeleton_at(f.t, f.image.shape[1], f.image.shape[0]) if (f is not None and self.draw_skeleton) else None
        return FakeSnapshot(
            frame=f, skeleton=sk, state=self._state,
            stats=FakeStats(source=getattr(self.source, "name", ""), model=self.model, camera_fps=10.0,
                            processing_fps=9.5, latency_ms=42.0, dropped=1, frames=f.index + 1 if f else 0),
        )

    # test controls
    def push_state(self, state: ActionState) -> None:
        self._state = state

    def push_error(self, err: Exception) -> None:
        self._errors.append(err)


class ExplodingRuntime(FakeRuntime):
    """``snapshot()`` itself raises: the window must survive a broken runtime."""

    def snapshot(self) -> FakeSnapshot:
        self.snapshots += 1
        raise RuntimeError("pose worker crashed")


def qimage_array(img) -> np.ndarray:
    """RGB ``[H, W, 3]`` copy of a QImage."""
    from PyQt6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(
        img.height(), img.width(), 3).copy()
