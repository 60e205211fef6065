"""The Qt-free engine: frames in, actions out, in real time, never blocking the caller.

Pipeline per frame (one :meth:`Runtime._step`)::

    Frame -> pose (PoseResult) -> adapt (Skeleton) -> WindowBuffer -> Recognizer (every k-th frame)
          -> Smoother (ActionState, ActionEvents) -> RuntimeSnapshot

Two ways to drive it:

* **threaded** (:meth:`Runtime.open`): a capture thread reads the source (pacing
  files to their frame rate when ``settings.realtime``) and hands each frame to
  a one-slot mailbox; a worker thread takes the newest frame and runs the
  pipeline.  A frame that is replaced before the worker took it is dropped and
  counted -- frames are never queued, so latency cannot grow.  The caller reads
  :meth:`Runtime.snapshot` (newest state, no waiting) and
  :meth:`Runtime.poll_errors` (a lost camera, a model that failed to load).
* **synchronous** (:meth:`Runtime.run`, :meth:`Runtime.process`): every frame in
  order on the caller's thread, deterministic -- for tests and ``ms2l infer``.

Only the thread that runs the pipeline touches the buffer, smoother and pose
estimator; settings changes are applied by it at the next frame, and model
swaps go through :meth:`Recognizer.swap <app.recognizer.Recognizer.swap>`,
which is thread-safe.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from .buffer import WindowBuffer
from .recognizer import ModelSpec, Recognizer
from .smoother import Smoother
from .sources import SkeletonFrame, Source, SourceError
from .types import ActionEvent, ActionState, Frame, PoseResult, Prediction, Skeleton

STAGES = ("decode", "pose", "adapt", "buffer", "model", "smooth", "total")


class PoseEstimator(Protocol):
    """What the pose stage needs: ``process(frame) -> PoseResult`` and ``close()``."""

    def process(self, frame: Frame) -> PoseResult: ...

    def close(self) -> None: ...


PoseFactory = Callable[..., PoseEstimator]  # called as factory(mirrored=bool)
ToSkeleton = Callable[[PoseResult], "Skeleton | None"]


def default_pose_factory(mirrored: bool = False) -> PoseEstimator:
    """MediaPipe pose (``app.pose``), imported only when a runtime first needs it."""
    from .pose import MediaPipePose

    return MediaPipePose(mirrored=mirrored)


def adapt_pose(result: PoseResult) -> Skeleton | None:
    """The person of a :class:`PoseResult` in the convention, or None when nobody usable was found.

    Uses :func:`app.pose.pose_to_skeleton` (the result's ``pose_adapters`` layout,
    mirroring when ``result.mirrored``); a skeleton with no joint seen counts as nobody.
    """
    from .pose import pose_to_skeleton

    skeleton = pose_to_skeleton(result)
    if skeleton is None or not (skeleton.confidence > 0).any():
        return None
    return skeleton


@dataclass(frozen=True)
class RuntimeSettings:
    """Run-time settings (change them with :meth:`Runtime.update_settings`).

    threshold: smoothed probability an action needs (below it: ``unknown``).
    smoothing: exponential smoothing weight of the history, ``[0, 1)``.
    hysteresis: an action ends below ``threshold - hysteresis``.
    window: window length in frames at the model's fps (None: the model's ``config.window``).
    window_s: window length in seconds (overrides ``window`` when set).
    min_fill: fraction of the window that must be filled before the first prediction.
    every_k: classify every k-th processed frame (1 = every frame).
    device, backend: for the recogniser (``auto``/``cpu``/``cuda``; ``auto``/``onnx``/``torch``).
    mirror: override the source's ``mirrored`` flag (None: trust the source).
    reset_after_s: a person lost for longer than this resets the window.
    realtime: threaded mode paces finite sources (files, folders, clips) to their frame rate.
    max_events: how many recent events a snapshot carries.
    """

    threshold: float = 0.5
    smoothing: float = 0.5
    hysteresis: float = 0.1
    window: int | None = None
    window_s: float | None = None
    min_fill: float = 1.0
    every_k: int = 3
    device: str = "auto"
    backend: str = "auto"
    mirror: bool | None = None
    reset_after_s: float = 1.0
    realtime: bool = True
    max_events: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}")
        if self.every_k < 1:
            raise ValueError(f"every_k must be >= 1, got {self.every_k}")
        if self.window is not None and self.window < 1:
            raise ValueError(f"window must be >= 1 frame, got {self.window}")
        if self.window_s is not None and self.window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {self.window_s}")
        if not 0 < self.min_fill <= 1:
            raise ValueError(f"min_fill must be in (0, 1], got {self.min_fill}")
        if self.reset_after_s < 0:
            raise ValueError(f"reset_after_s must be >= 0, got {self.reset_after_s}")

    def window_frames(self, fps: float, default: int) -> int:
        """The window length in frames at ``fps``."""
        if self.window_s is not None:
            return max(1, int(round(self.window_s * fps)))
        return int(self.window or default)

    def replace(self, **changes: Any) -> "RuntimeSettings":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown runtime settings: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RuntimeStats:
    """Counters and rates.

    camera_fps: frames per second delivered by the source; processing_fps: frames
    per second through the pipeline; latency_ms: median capture-to-prediction
    delay over recent predictions; dropped: frames replaced before the worker
    took them; frames: frames read; stage_ms: recent median per stage.
    """

    source: str = ""
    model: str = ""
    device: str = ""
    camera_fps: float = 0.0
    processing_fps: float = 0.0
    latency_ms: float = 0.0
    dropped: int = 0
    frames: int = 0
    backend: str = ""
    processed: int = 0
    running: bool = False
    paused: bool = False
    finished: bool = False
    stage_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeSnapshot:
    """The newest state, for display.

    frame: the newest *processed* frame (so ``skeleton`` lines up with it);
    prediction: the latest raw prediction (None while nobody is seen or the
    window fills); state: the smoothed verdict; events: recent events, oldest
    first; new_events: the events raised by this frame; timings: this frame's
    stage times in ms.
    """

    frame: Frame | None = None
    skeleton: Skeleton | None = None
    prediction: Prediction | None = None
    state: ActionState | None = None
    events: tuple[ActionEvent, ...] = ()
    stats: RuntimeStats = field(default_factory=RuntimeStats)
    new_events: tuple[ActionEvent, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class _Rate:
    """Events per second over the last ``n`` timestamps."""

    def __init__(self, n: int = 30):
        self._t: deque[float] = deque(maxlen=n)

    def tick(self, t: float) -> None:
        self._t.append(t)

    def clear(self) -> None:
        self._t.clear()

    @property
    def value(self) -> float:
        t = tuple(self._t)  # one atomic copy: another thread may be ticking
        if len(t) < 2:
            return 0.0
        span = t[-1] - t[0]
        return (len(t) - 1) / span if span > 0 else 0.0


class Runtime:
    """Frames to actions.  See the module docstring for the threading model.

    Args:
        model: model file, ``"default"`` or an MS2L instance (ignored when ``recognizer`` is given).
        settings: :class:`RuntimeSettings` (defaults when None).
        pose_factory: ``factory(mirrored=bool) -> estimator`` with ``process(frame)`` and
            ``close()``; default MediaPipe (``app.pose``).
        recognizer: a ready :class:`~app.recognizer.Recognizer` (tests, sharing one).
        to_skeleton: ``PoseResult -> Skeleton | None``; default :func:`adapt_pose`.
    """

    def __init__(self, model: ModelSpec = "default", *, settings: RuntimeSettings | None = None,
                 pose_factory: PoseFactory | None = None, recognizer: Recognizer | None = None,
                 to_skeleton: ToSkeleton | None = None):
        self._settings = settings or RuntimeSettings()
        self._model_spec: ModelSpec = model
        self.recognizer = recognizer or Recognizer(model, device=self._settings.device, backend=self._settings.backend)
        self._pose_factory = pose_factory or default_pose_factory
        self._to_skeleton = to_skeleton or adapt_pose
        self._errors: deque[Exception] = deque(maxlen=100)
        self._errors_lock = threading.Lock()
        self._cond = threading.Condition()
        self._source: Source | None = None
        self._capture_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._listeners: list[Callable[[RuntimeSnapshot], None]] = []
        self._reset_pipeline()

    # -- pipeline state (owned by the thread that runs _step) --------------------------------
    def _reset_pipeline(self) -> None:
        rec = self.recognizer
        s = self._settings
        window = s.window_frames(rec.fps, rec.config.window)
        self._buffer = WindowBuffer(rec.fps, window, s.reset_after_s, min_frames=max(1, int(np.ceil(s.min_fill * window))))
        self._smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis)
        self._applied = s
        self._pose: PoseEstimator | None = None
        self._pose_mirrored: bool | None = None
        self._prediction: Prediction | None = None
        self._since_pred = 0
        self._events: deque[ActionEvent] = deque(maxlen=s.max_events)
        self._pending: tuple[Frame, float, float] | None = None
        self._frames = 0
        self._dropped = 0
        self._processed = 0
        self._finished = False
        self._paused = False
        self._cam_rate = _Rate()
        self._proc_rate = _Rate()
        self._latencies: deque[float] = deque(maxlen=50)
        self._stage: dict[str, deque[float]] = {k: deque(maxlen=100) for k in STAGES}
        self._snapshot = RuntimeSnapshot(stats=self._stats())

    def _sync_settings(self) -> None:
        """Apply new settings and a swapped model to the buffer and smoother (pipeline thread only)."""
        s, rec = self._settings, self.recognizer
        window = s.window_frames(rec.fps, rec.config.window)
        min_frames = max(1, int(np.ceil(s.min_fill * window)))
        if rec.labels != self._smoother.labels:
            self._smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis)
            self._prediction = None
        if s is not self._applied:
            self._smoother.configure(threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis)
            self._events = deque(self._events, maxlen=s.max_events)
            self._applied = s
        b = self._buffer
        if (b.fps, b.window_frames, b.reset_after_s, b.min_frames) != (rec.fps, window, s.reset_after_s, min_frames):
            b.configure(fps=rec.fps, window=window, reset_after_s=s.reset_after_s, min_frames=min_frames)

    def _pose_for(self, mirrored: bool) -> PoseEstimator:
        if self._pose is None or self._pose_mirrored != mirrored:
            if self._pose is not None:
                self._pose.close()
                self._pose = None
            self._pose = self._pose_factory(mirrored=mirrored)
            self._pose_mirrored = mirrored
        return self._pose

    def _close_pose(self) -> None:
        if self._pose is not None:
            try:
                self._pose.close()
            finally:
                self._pose = None

    def _step(self, frame: Frame, captured_at: float, decode_ms: float = 0.0, mirrored: bool = False) -> RuntimeSnapshot:
        """Run the whole pipeline on one frame and publish the snapshot."""
        self._sync_settings()
        s = self._settings
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
        self._buffer.push(skeleton, frame.t)
        self._since_pred += 1
        person = skeleton is not None
        window = None
        if person and self._buffer.ready and (self._prediction is None or self._since_pred >= s.every_k):
            window = self._buffer.window()
        t3 = clock()
        new_pred = None
        if window is not None:
            new_pred = self.recognizer.predict(window, frame_index=frame.index)
            if new_pred is not None:
                self._since_pred = 0
                new_pred = dataclasses.replace(new_pred, latency_s=time.monotonic() - captured_at)
                self._latencies.append(new_pred.latency_s * 1000)
                self._prediction = new_pred
        t4 = clock()
        if not person or not self._buffer.ready:
            self._prediction = None
        try:
            state, events = self._smoother.update(frame.t, new_pred, person=person, ready=self._buffer.ready)
        except ValueError:  # a swap landed between predict and here: start afresh with the new labels
            self._sync_settings()
            state, events = self._smoother.update(frame.t, None, person=person, ready=self._buffer.ready)
        t5 = clock()
        self._events.extend(events)
        tm.update(pose=(t1 - t0) * 1e3, adapt=(t2 - t1) * 1e3, buffer=(t3 - t2) * 1e3, model=(t4 - t3) * 1e3,
                  smooth=(t5 - t4) * 1e3, total=(time.monotonic() - captured_at) * 1e3)
        for k, v in tm.items():
            if k != "model" or window is not None:  # model: only frames that ran it
                self._stage[k].append(v)
        self._processed += 1
        self._proc_rate.tick(time.monotonic())
        snap = RuntimeSnapshot(frame=frame, skeleton=skeleton, prediction=self._prediction, state=state,
                               events=tuple(self._events), stats=self._stats(), new_events=tuple(events), timings=tm)
        self._snapshot = snap
        for fn in self._listeners:
            try:
                fn(snap)
            except Exception as e:  # noqa: BLE001 - a faulty listener must not stop the pipeline
                self._error(e)
        return snap

    def _stats(self) -> RuntimeStats:
        rec = self.recognizer
        # tuple() copies in one C call: the worker may append while the UI thread reads.
        lats = tuple(self._latencies)
        lat = float(np.median(lats)) if lats else 0.0
        stage_ms = {k: float(np.median(v)) for k, v in ((k, tuple(d)) for k, d in self._stage.items()) if v}
        running = self._worker_thread is not None and self._worker_thread.is_alive()
        return RuntimeStats(source=getattr(self._source, "name", ""), model=rec.name, device=rec.device,
                            camera_fps=self._cam_rate.value, processing_fps=self._proc_rate.value, latency_ms=lat,
                            dropped=self._dropped, frames=self._frames, backend=rec.backend, processed=self._processed,
                            running=running, paused=self._paused, finished=self._finished, stage_ms=stage_ms)

    def _error(self, e: Exception) -> None:
        with self._errors_lock:
            last = self._errors[-1] if self._errors else None
            if last is not None and type(last) is type(e) and str(last) == str(e):
                return  # the same failure on every frame is reported once per poll
            self._errors.append(e)

    # -- public API ----------------------------------------------------------------------------
    @property
    def settings(self) -> RuntimeSettings:
        return self._settings

    @property
    def running(self) -> bool:
        return self._worker_thread is not None and self._worker_thread.is_alive()

    def snapshot(self) -> RuntimeSnapshot:
        """The newest state; never waits (stats are refreshed from the live counters)."""
        return dataclasses.replace(self._snapshot, stats=self._stats())

    def add_listener(self, fn: Callable[[RuntimeSnapshot], None]) -> None:
        """Call ``fn(snapshot)`` after every processed frame, on the pipeline thread (keep it quick)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[RuntimeSnapshot], None]) -> None:
        self._listeners.remove(fn)

    def poll_errors(self) -> list[Exception]:
        """Errors since the last call (oldest first): SourceError for a lost source, load errors, ..."""
        with self._errors_lock:
            out = list(self._errors)
            self._errors.clear()
        return out

    def update_settings(self, **changes: Any) -> RuntimeSettings:
        """Change settings (validated now, applied at the next frame); returns the new settings.

        A new ``device`` or ``backend`` reloads the model in the background.
        """
        old = self._settings
        new = old.replace(**changes)
        self._settings = new
        if (new.device, new.backend) != (old.device, old.backend):
            self._swap_async(self._model_spec, device=new.device, backend=new.backend)
        return new

    def set_model(self, model: ModelSpec, wait: bool = False) -> Future:
        """Switch to another model without stopping: it loads in the background, the old one
        serves meanwhile; a model that fails to load is reported by :meth:`poll_errors` (and
        by the returned future) and the old one stays.  ``wait=True`` blocks until done."""
        fut = self._swap_async(model)
        if wait:
            try:
                fut.result()
            except Exception:
                pass  # already reported through poll_errors
        return fut

    def _swap_async(self, model: ModelSpec, device: str | None = None, backend: str | None = None) -> Future:
        fut: Future = Future()

        def work() -> None:
            try:
                self.recognizer.swap(model, device=device, backend=backend)
                self._model_spec = model
                fut.set_result(None)
            except Exception as e:  # noqa: BLE001 - every load failure is reported, none crashes the app
                self._error(e)
                fut.set_exception(e)

        threading.Thread(target=work, name="ms2l-model-swap", daemon=True).start()
        return fut

    # threaded mode ----------------------------------------------------------------------------
    def open(self, source: Source) -> None:
        """Start processing ``source`` in the background (closing any source already open)."""
        self.close()
        self._resume.set()
        self._stop = stop = threading.Event()  # one per session: a straggler thread only sees its own
        self._reset_pipeline()
        self._source = source
        self._capture_thread = threading.Thread(target=self._capture_loop, args=(source, stop), name="ms2l-capture",
                                                daemon=True)
        self._worker_thread = threading.Thread(target=self._worker_loop, args=(source, stop), name="ms2l-worker",
                                               daemon=True)
        self._worker_thread.start()
        self._capture_thread.start()
        self._snapshot = RuntimeSnapshot(stats=self._stats())

    def reconnect(self) -> None:
        """Reopen the last source and process it again: a camera plugged back in, a stream back up.

        The source's ``reopen()`` runs on this thread; when it fails its SourceError is raised
        here and the runtime stays stopped (ask again later).  A source without ``reopen()``
        must be opened afresh with :func:`app.sources.open_source` and :meth:`open`.
        """
        src = self._source
        if src is None:
            raise SourceError("nothing to reconnect: no source was opened")
        reopen = getattr(src, "reopen", None)
        if reopen is None:
            raise SourceError(f"{getattr(src, 'name', 'this source')} cannot be reopened: open it again")
        capture = self._capture_thread
        self.close()
        if capture is not None and capture.is_alive():  # still inside a driver call: reopening now would race it
            raise SourceError(f"{getattr(src, 'name', 'the source')} is still busy: try again in a moment")
        reopen()
        self._source = None  # already closed by close(): open() must not close the reopened source
        self.open(src)

    def close(self, timeout: float = 3.0) -> None:
        """Stop the threads and close the source (the runtime can be opened again)."""
        self._stop.set()
        self._resume.set()
        with self._cond:
            self._cond.notify_all()
        cap, work = self._capture_thread, self._worker_thread
        if work is not None:
            work.join(timeout)
        if cap is not None:
            cap.join(timeout)
        src = self._source
        if src is not None and (cap is None or not cap.is_alive()):
            try:
                src.close()
            except Exception as e:  # noqa: BLE001
                self._error(e)
        # A capture thread stuck in a driver call closes the source itself when it returns.
        self._capture_thread = self._worker_thread = None
        if work is None or not work.is_alive():
            self._close_pose()
        self._paused = False

    def pause(self) -> None:
        """Stop reading frames (a file keeps its place); the last snapshot stays."""
        self._paused = True
        self._resume.clear()

    def resume(self) -> None:
        self._paused = False
        self._resume.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a finite source is fully processed (or ``timeout``); True when finished."""
        th = self._worker_thread
        if th is not None:
            th.join(timeout)
            return not th.is_alive()
        return True

    def _capture_loop(self, source: Source, stop: threading.Event) -> None:
        live = bool(getattr(source, "live", False))
        anchor: tuple[float, float] | None = None  # (monotonic, media time) for pacing
        try:
            while not stop.is_set():
                if not self._resume.is_set():
                    self._resume.wait(0.1)
                    anchor = None  # restart pacing after a pause
                    continue
                t0 = time.perf_counter()
                try:
                    frame = source.read()
                except SourceError as e:
                    self._error(e)
                    break
                except Exception as e:  # noqa: BLE001 - any driver failure ends this source, not the app
                    self._error(SourceError(f"{getattr(source, 'name', 'source')} failed: {e}"))
                    break
                decode_ms = (time.perf_counter() - t0) * 1e3
                if frame is None:
                    break
                if self._settings.realtime and not live:
                    now = time.monotonic()
                    if anchor is None:
                        anchor = (now, frame.t)
                    delay = anchor[0] + (frame.t - anchor[1]) - now
                    if delay > 0 and stop.wait(delay):
                        break
                captured_at = time.monotonic()
                with self._cond:
                    if stop.is_set():
                        break
                    self._frames += 1
                    self._cam_rate.tick(captured_at)
                    if self._pending is not None:
                        self._dropped += 1  # the newest frame wins
                    self._pending = (frame, captured_at, decode_ms)
                    self._cond.notify()
        finally:
            with self._cond:
                if not stop.is_set():
                    self._finished = True
                self._cond.notify_all()
            if stop.is_set() and self._capture_thread is None:
                try:
                    source.close()
                except Exception:  # noqa: BLE001
                    pass

    def _worker_loop(self, source: Source, stop: threading.Event) -> None:
        mirrored = bool(getattr(source, "mirrored", False))
        try:
            while True:
                with self._cond:
                    while self._pending is None and not stop.is_set() and not self._finished:
                        self._cond.wait(0.1)
                    if stop.is_set():
                        return
                    item, self._pending = self._pending, None
                if item is None:
                    return  # source finished and everything taken
                try:
                    self._step(item[0], item[1], item[2], mirrored=mirrored)
                except Exception as e:  # noqa: BLE001 - report, skip the frame, keep going
                    self._error(e)
        finally:
            if not stop.is_set():
                self._snapshot = dataclasses.replace(self._snapshot, stats=self._stats())
            elif self._stop is stop:
                self._close_pose()  # close() could not wait for us: the pose estimator is ours to close

    # synchronous mode -------------------------------------------------------------------------
    def process(self, frame: Frame, *, mirrored: bool = False) -> RuntimeSnapshot:
        """Run one frame through the pipeline now, on this thread (deterministic)."""
        now = time.monotonic()
        self._frames += 1
        self._cam_rate.tick(now)
        return self._step(frame, now, 0.0, mirrored=mirrored)

    def run(self, source: Source, *, max_frames: int | None = None, close: bool = True) -> Iterator[RuntimeSnapshot]:
        """Process every frame of ``source`` in order on this thread; yields one snapshot per frame.

        Source errors propagate (a synchronous caller wants them).  The source is
        closed at the end when ``close``.
        """
        if self.running:
            raise RuntimeError("this runtime is running a source in the background: close() it first")
        self._close_pose()
        self._reset_pipeline()
        self._source = source
        mirrored = bool(getattr(source, "mirrored", False))
        try:
            n = 0
            while max_frames is None or n < max_frames:
                t0 = time.perf_counter()
                frame = source.read()
                decode_ms = (time.perf_counter() - t0) * 1e3
                if frame is None:
                    break
                now = time.monotonic()
                self._frames += 1
                self._cam_rate.tick(now)
                yield self._step(frame, now, decode_ms, mirrored=mirrored)
                n += 1
            self._finished = True
        finally:
            if close:
                source.close()
            self._close_pose()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
