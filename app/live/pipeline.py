"""The deterministic per-frame step: Frame -> pose -> Skeleton -> window -> Prediction -> ActionState.

:class:`Pipeline` owns the stateful parts of one stream (pose estimator, window
buffer, smoother, last prediction) and runs them in order on one frame at a time;
it knows nothing of threads.  :class:`app.live.runtime.Runtime` drives it from
its worker thread (threaded mode) or the caller's thread (``run``/``process``).
"""
from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..settings import RuntimeSettings
from ..types import ActionEvent, ActionState, Frame, PoseResult, Prediction, Skeleton
from .recognizer import Recognizer
from .smoother import Smoother
from .sources import SkeletonFrame
from .window import WindowBuffer

STAGES = ("decode", "pose", "adapt", "buffer", "model", "smooth", "total")


class PoseEstimator(Protocol):
    """What the pose stage needs: ``process(frame) -> PoseResult`` and ``close()``."""

    def process(self, frame: Frame) -> PoseResult: ...

    def close(self) -> None: ...


PoseFactory = Callable[..., PoseEstimator]  # called as factory(mirrored=bool)
ToSkeleton = Callable[[PoseResult], "Skeleton | None"]


def default_pose_factory(mirrored: bool = False) -> PoseEstimator:
    """MediaPipe pose (:mod:`app.live.pose`), imported only when a pipeline first needs it."""
    from .pose import MediaPipePose

    return MediaPipePose(mirrored=mirrored)


def adapt_pose(result: PoseResult) -> Skeleton | None:
    """The person of a :class:`PoseResult` in the convention, or None when nobody usable was found.

    Uses :func:`app.live.pose.pose_to_skeleton` (the result's ``pose_adapters`` layout,
    mirroring when ``result.mirrored``); a skeleton with no joint seen counts as nobody.
    """
    from .pose import pose_to_skeleton

    skeleton = pose_to_skeleton(result)
    if skeleton is None or not (skeleton.confidence > 0).any():
        return None
    return skeleton


def live_window(settings: RuntimeSettings, recognizer: Recognizer) -> tuple[int, int]:
    """``(window, min_frames)`` at the model's rate: the settings' when given, else the model's own.

    A model trained on the user's clips records the live window it was trained for
    (``meta["live"]``: about its longest clips, and the first decision after about its
    shortest), so that live windows look like its training clips; other models use
    ``config.window`` and a full window.
    """
    live = (recognizer.meta or {}).get("live") or {}
    default = int(live.get("window") or recognizer.config.window)
    window = settings.window_frames(recognizer.fps, default)
    if settings.min_fill is not None:
        min_frames = int(np.ceil(settings.min_fill * window))
    elif live.get("min_frames"):
        min_frames = int(live["min_frames"])
    else:
        min_frames = window
    return window, max(1, min(window, min_frames))


@dataclass(frozen=True)
class StepResult:
    """What one frame produced: the person (or None), the newest prediction still valid, the smoothed
    state, the events this frame raised, stage times in ms, and whether the model ran."""

    skeleton: Skeleton | None
    prediction: Prediction | None
    state: ActionState
    events: tuple[ActionEvent, ...]
    timings: dict[str, float] = field(default_factory=dict)
    ran_model: bool = False
    new_prediction: Prediction | None = None


class Pipeline:
    """One stream's pipeline state; call :meth:`step` with frames in time order (one thread only)."""

    def __init__(self, recognizer: Recognizer, settings: RuntimeSettings, pose_factory: PoseFactory | None = None,
                 to_skeleton: ToSkeleton | None = None) -> None:
        self.recognizer = recognizer
        self.settings = settings
        self._pose_factory = pose_factory or default_pose_factory
        self._to_skeleton = to_skeleton or adapt_pose
        rec, s = recognizer, settings
        window, min_frames = live_window(s, rec)
        self.buffer = WindowBuffer(rec.fps, window, s.reset_after_s, min_frames=min_frames)
        self.smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                 rejection=s.rejection)
        self._recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque()
        self._applied = s
        self._pose: PoseEstimator | None = None
        self._pose_mirrored: bool | None = None
        self.prediction: Prediction | None = None
        self._since_pred = 0

    def sync(self, settings: RuntimeSettings) -> None:
        """Apply new settings and a swapped model to the buffer and smoother."""
        self.settings = s = settings
        rec = self.recognizer
        window, min_frames = live_window(s, rec)
        if rec.labels != self.smoother.labels:
            self.smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                     rejection=s.rejection)
            self.prediction = None
        if s is not self._applied:
            self.smoother.configure(threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                    rejection=s.rejection)
            self._applied = s
        b = self.buffer
        if (b.fps, b.window_frames, b.reset_after_s, b.min_frames) != (rec.fps, window, s.reset_after_s, min_frames):
            b.configure(fps=rec.fps, window=window, reset_after_s=s.reset_after_s, min_frames=min_frames)

    def _still(self, skeleton: Skeleton | None, t: float) -> bool:
        """Whether the person's confident joints stayed within ``still_m`` for the last ``still_s`` seconds."""
        s = self.settings
        if skeleton is None or s.still_s <= 0:
            self._recent.clear()
            return False
        self._recent.append((t, skeleton.joints, skeleton.confidence))
        while self._recent and self._recent[0][0] < t - s.still_s - 1e-6:
            self._recent.popleft()
        t0 = self._recent[0][0]
        if t - t0 < 0.9 * s.still_s or len(self._recent) < 3:
            return False  # not watched long enough
        j = np.stack([r[1] for r in self._recent])                     # [T, V, 3]
        seen = np.stack([r[2] for r in self._recent]).min(0) > 0.5     # [V] confident throughout
        if seen.sum() < 5:
            return False
        spread = (j[:, seen].max(0) - j[:, seen].min(0)).max()
        return bool(spread <= s.still_m)

    def _pose_for(self, mirrored: bool) -> PoseEstimator:
        if self._pose is None or self._pose_mirrored != mirrored:
            if self._pose is not None:
                self._pose.close()
                self._pose = None
            self._pose = self._pose_factory(mirrored=mirrored)
            self._pose_mirrored = mirrored
        return self._pose

    def close(self) -> None:
        """Close the pose estimator (a later frame opens a new one)."""
        if self._pose is not None:
            try:
                self._pose.close()
            finally:
                self._pose = None

    def step(self, frame: Frame, captured_at: float, decode_ms: float = 0.0, mirrored: bool = False,
             settings: RuntimeSettings | None = None) -> StepResult:
        """Run the whole pipeline on one frame (``captured_at``: monotonic capture time)."""
        self.sync(settings or self.settings)
        s = self.settings
        tm: dict[str, float] = {"decode": decode_ms}
        clock = time.perf_counter
        t0 = clock()
        if isinstance(frame, SkeletonFrame):  # replayed clip: skeletons are given, no pose stage
            skeleton = frame.skeleton
            t2 = t1 = clock()
        else:
            mir = s.mirror if s.mirror is not None else mirrored
            result = self._pose_for(mir).process(frame)
            t1 = clock()
            skeleton = self._to_skeleton(result)
            t2 = clock()
        self.buffer.push(skeleton, frame.t)
        self._since_pred += 1
        person = skeleton is not None
        window = None
        if person and self.buffer.ready and (self.prediction is None or self._since_pred >= s.every_k):
            window = self.buffer.window()
        t3 = clock()
        new_pred = None
        if window is not None:
            new_pred = self.recognizer.predict(window, frame_index=frame.index)
            if new_pred is not None:
                self._since_pred = 0
                new_pred = dataclasses.replace(new_pred, latency_s=time.monotonic() - captured_at)
                self.prediction = new_pred
        t4 = clock()
        if not person or not self.buffer.ready:
            self.prediction = None
        still = self._still(skeleton, frame.t)
        try:
            state, events = self.smoother.update(frame.t, new_pred, person=person, ready=self.buffer.ready, still=still)
        except ValueError:  # a swap landed between predict and here: start afresh with the new labels
            self.sync(self.settings)
            state, events = self.smoother.update(frame.t, None, person=person, ready=self.buffer.ready, still=still)
        t5 = clock()
        tm.update(pose=(t1 - t0) * 1e3, adapt=(t2 - t1) * 1e3, buffer=(t3 - t2) * 1e3, model=(t4 - t3) * 1e3,
                  smooth=(t5 - t4) * 1e3, total=(time.monotonic() - captured_at) * 1e3)
        return StepResult(skeleton, self.prediction, state, tuple(events), tm, window is not None, new_pred)
