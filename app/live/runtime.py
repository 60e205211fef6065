"""The Qt-free engine: frames in, actions out, in real time, never blocking the caller.

Pipeline per frame (:class:`app.live.pipeline.Pipeline`, one call per frame)::

    Frame -> pose (PoseResult) -> adapt (Skeleton) -> WindowBuffer -> Recognizer (every k-th frame)
          -> Smoother (ActionState, ActionEvents) -> RuntimeSnapshot

This module adds the threads, the one-slot mailbox, the snapshot and model swaps.

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
swaps go through :meth:`Recognizer.swap <app.live.recognizer.Recognizer.swap>`,
which is thread-safe.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import SourceError
from ..settings import RuntimeSettings
from ..types import ActionEvent, ActionState, Frame, Prediction, Skeleton
from .pipeline import (STAGES, PersonResult, Pipeline, PoseEstimator, PoseFactory, StepResult,  # noqa: F401
                       ToSkeleton, adapt_pose, default_pose_factory)
from .recognizer import ModelSpec, Recognizer
from .sources import Source

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
    stage times in ms; persons: every tracked person (id, box, skeleton, prediction,
    state) when following several (``settings.persons > 1``), the fields above then
    describing ``selected``.
    """

    frame: Frame | None = None
    skeleton: Skeleton | None = None
    prediction: Prediction | None = None
    state: ActionState | None = None
    events: tuple[ActionEvent, ...] = ()
    stats: RuntimeStats = field(default_factory=RuntimeStats)
    new_events: tuple[ActionEvent, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    persons: tuple[PersonResult, ...] = ()
    selected: int | None = None


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
        self._pose_factory = pose_factory
        self._to_skeleton = to_skeleton
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
        s = self._settings
        self._pipeline = Pipeline(self.recognizer, s, self._pose_factory, self._to_skeleton)
        self._events: deque[ActionEvent] = deque(maxlen=s.max_events)
        self._pending: tuple[Frame, float, float] | None = None
        self._last_frame: Frame | None = None
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

    def _close_pose(self) -> None:
        self._pipeline.close()

    def _step(self, frame: Frame, captured_at: float, decode_ms: float = 0.0, mirrored: bool = False) -> RuntimeSnapshot:
        """Run the pipeline on one frame and publish the snapshot (the pipeline thread only)."""
        s = self._settings
        if self._events.maxlen != s.max_events:
            self._events = deque(self._events, maxlen=s.max_events)
        r = self._pipeline.step(frame, captured_at, decode_ms, mirrored, settings=s)
        self._last_frame = frame
        return self._publish(frame, r)

    def _finish(self) -> RuntimeSnapshot | None:
        """The source ended: the pipeline's last decision on a short stretch, published (None: nothing new)."""
        frame = self._last_frame
        if frame is None:
            return None
        r = self._pipeline.finish(frame, time.monotonic())
        return None if r is None else self._publish(frame, r, processed=False)

    def _publish(self, frame: Frame, r: StepResult, processed: bool = True) -> RuntimeSnapshot:
        if r.new_prediction is not None:
            self._latencies.append(r.new_prediction.latency_s * 1000)
        self._events.extend(r.events)
        for k, v in r.timings.items():
            if k != "model" or r.ran_model:  # model: only frames that ran it
                self._stage[k].append(v)
        if processed:  # the end-of-source decision is not another frame
            self._processed += 1
            self._proc_rate.tick(time.monotonic())
        snap = RuntimeSnapshot(frame=frame, skeleton=r.skeleton, prediction=r.prediction, state=r.state,
                               events=tuple(self._events), stats=self._stats(), new_events=r.events, timings=r.timings,
                               persons=r.persons, selected=r.selected)
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
                    try:
                        self._finish()  # source finished and everything taken: decide on what is left
                    except Exception as e:  # noqa: BLE001
                        self._error(e)
                    return
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
            if max_frames is None or n < max_frames:
                final = self._finish()
                if final is not None:
                    yield final
            self._finished = True
        finally:
            if close:
                source.close()
            self._close_pose()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
