"""The deterministic per-frame step: Frame -> pose -> Skeleton(s) -> window -> Prediction -> ActionState.

:class:`Pipeline` owns the stateful parts of one stream -- the pose estimator and,
per person, a window buffer, a smoother and the last prediction -- and runs them in
order on one frame at a time; it knows nothing of threads.
:class:`app.live.runtime.Runtime` drives it from its worker thread (threaded mode)
or the caller's thread (``run``/``process``).

One person (``settings.persons == 1``, the fast path): the pose stage returns one
``PoseResult``.  Several: it returns a list (:class:`app.live.multipose.MultiPose`),
:class:`app.live.tracker.Tracker` gives every person a stable id, and each track
gets its own buffer, recogniser call and smoother; a two-person model
(``ModelConfig.persons == 2``) is fed the two tracks closest to each other.  The
selected person (``settings.select``; default the largest) is the one the
single-person fields of :class:`StepResult` describe.
"""
from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..settings import RuntimeSettings
from ..types import ActionEvent, ActionState, Frame, PoseResult, Prediction, Skeleton, Window
from .recognizer import Recognizer
from .smoother import Smoother
from .sources import SkeletonFrame
from .tracker import Track, Tracker, closest_pair, largest
from .window import WindowBuffer

STAGES = ("decode", "pose", "adapt", "buffer", "model", "smooth", "total")
#: The least motion (seconds) that the end of a finite source still decides on (:meth:`Pipeline.finish`).
FINAL_MIN_S = 0.5


class PoseEstimator(Protocol):
    """What the pose stage needs: ``process(frame) -> PoseResult`` (or a list, one per person) and ``close()``."""

    def process(self, frame: Frame) -> "PoseResult | list[PoseResult]": ...

    def close(self) -> None: ...


PoseFactory = Callable[..., PoseEstimator]  # called as factory(mirrored=bool[, persons=int])
ToSkeleton = Callable[[PoseResult], "Skeleton | None"]


def default_pose_factory(mirrored: bool = False, persons: int = 1, tiles: int = 1) -> PoseEstimator:
    """MediaPipe pose, imported only when a pipeline first needs it: the single-person estimator
    (:mod:`app.live.pose`) for one person, else :class:`app.live.multipose.MultiPose` on ``tiles``
    strips, or with ``tiles = 0`` :class:`app.live.autostrips.AutoStrips` (whole frame or 2 strips,
    chosen from the people it sees)."""
    if persons <= 1 and tiles <= 1:
        from .pose import MediaPipePose

        return MediaPipePose(mirrored=mirrored)
    import os

    from .multipose import MultiPose

    # One strip per core: on this 2-core CPU two strips on two threads ran at 15.6 fps against 8.5
    # on one (benchmarks/results/multiperson.md).
    def strips(n: int) -> MultiPose:
        return MultiPose(num_poses=persons, mirrored=mirrored, tiles=n, threads=min(n, os.cpu_count() or 1))

    if tiles == 0:
        from .autostrips import AutoStrips

        return AutoStrips(lambda: strips(1), lambda: strips(2), num_poses=persons)
    return strips(tiles)


def _tagged(events: list[ActionEvent] | tuple[ActionEvent, ...], **extra: int) -> tuple[ActionEvent, ...]:
    """``events`` with the person (and partner) ids they concern in their ``extra``."""
    return tuple(dataclasses.replace(e, extra={**e.extra, **extra}) for e in events)


def _many_result(persons: tuple["PersonResult", ...], follow: int | None, nobody: "ActionState | None",
                 tm: dict[str, float], ran: bool, newest: Prediction | None) -> "StepResult":
    """The multi-person step's result: every person, and the single-person fields following ``follow``
    (``nobody``, the state without a selected person, when that person is not among them)."""
    events = tuple(e for p in persons for e in p.events)
    sel = next((p for p in persons if p.id == follow), None)
    if sel is None:
        return StepResult(None, None, nobody, events, tm, ran, newest, persons, None)
    return StepResult(sel.skeleton, sel.prediction, sel.state, events, tm, ran, newest, persons, sel.id)


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


def window_for(settings: RuntimeSettings, recognizer: Recognizer) -> tuple[int, int]:
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
class PersonResult:
    """One tracked person on one frame: ``id`` (stable), ``box`` ``[4]`` pixels, their skeleton (None
    while coasting through a miss), prediction, smoothed state and the events they raised.
    ``partner``: the other person's id when a two-person model judged them as a pair."""

    id: int
    box: np.ndarray
    skeleton: Skeleton | None
    prediction: Prediction | None
    state: ActionState
    events: tuple[ActionEvent, ...] = ()
    partner: int | None = None


@dataclass(frozen=True)
class StepResult:
    """What one frame produced: the (selected) person or None, the newest prediction still valid, the
    smoothed state, the events this frame raised, stage times in ms, and whether the model ran;
    ``persons``: every tracked person (multi-person mode; empty in the one-person path)."""

    skeleton: Skeleton | None
    prediction: Prediction | None
    state: ActionState
    events: tuple[ActionEvent, ...]
    timings: dict[str, float] = field(default_factory=dict)
    ran_model: bool = False
    new_prediction: Prediction | None = None
    persons: tuple[PersonResult, ...] = ()
    selected: int | None = None


class _Person:
    """One person's stream state: window buffer, smoother, last prediction, recent motion."""

    def __init__(self, rec: Recognizer, s: RuntimeSettings) -> None:
        window, min_frames = window_for(s, rec)
        self.buffer = WindowBuffer(rec.fps, window, s.reset_after_s, min_frames=min_frames)
        self.smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                 rejection=s.rejection)
        self.recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque()
        self.prediction: Prediction | None = None
        self.since_pred = 0
        self.applied = s

    def sync(self, rec: Recognizer, s: RuntimeSettings) -> None:
        window, min_frames = window_for(s, rec)
        if rec.labels != self.smoother.labels:
            self.smoother = Smoother(rec.labels, threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                     rejection=s.rejection)
            self.prediction = None
        if s is not self.applied:
            self.smoother.configure(threshold=s.threshold, smoothing=s.smoothing, hysteresis=s.hysteresis,
                                    rejection=s.rejection)
            self.applied = s
        b = self.buffer
        if (b.fps, b.window_frames, b.reset_after_s, b.min_frames) != (rec.fps, window, s.reset_after_s, min_frames):
            b.configure(fps=rec.fps, window=window, reset_after_s=s.reset_after_s, min_frames=min_frames)

    def still(self, skeleton: Skeleton | None, t: float, s: RuntimeSettings) -> bool:
        """Whether the person's confident joints stayed within ``still_m`` for the last ``still_s`` seconds."""
        if skeleton is None or s.still_s <= 0:
            self.recent.clear()
            return False
        self.recent.append((t, skeleton.joints, skeleton.confidence))
        while self.recent and self.recent[0][0] < t - s.still_s - 1e-6:
            self.recent.popleft()
        if t - self.recent[0][0] < 0.9 * s.still_s or len(self.recent) < 3:
            return False  # not watched long enough
        j = np.stack([r[1] for r in self.recent])                     # [T, V, 3]
        seen = np.stack([r[2] for r in self.recent]).min(0) > 0.5     # [V] confident throughout
        if seen.sum() < 5:
            return False
        return bool((j[:, seen].max(0) - j[:, seen].min(0)).max() <= s.still_m)

    def wants_prediction(self, person: bool, every_k: int) -> bool:
        return person and self.buffer.ready and (self.prediction is None or self.since_pred >= every_k)

    def update(self, t: float, new_pred: Prediction | None, person: bool, skeleton: Skeleton | None,
               s: RuntimeSettings, rec: Recognizer, ready: bool | None = None) -> tuple[ActionState, list[ActionEvent]]:
        """``ready``: whether the input window is full (default: this person's buffer; a pair passes both)."""
        ready = self.buffer.ready if ready is None else ready
        if new_pred is not None:
            self.since_pred = 0
            self.prediction = new_pred
        if not person or not ready:
            self.prediction = None
        still = self.still(skeleton, t, s)
        try:
            return self.smoother.update(t, new_pred, person=person, ready=ready, still=still)
        except ValueError:  # a swap landed between predict and here: start afresh with the new labels
            self.sync(rec, s)
            return self.smoother.update(t, None, person=person, ready=ready, still=still)


class Pipeline:
    """One stream's pipeline state; call :meth:`step` with frames in time order (one thread only)."""

    def __init__(self, recognizer: Recognizer, settings: RuntimeSettings, pose_factory: PoseFactory | None = None,
                 to_skeleton: ToSkeleton | None = None) -> None:
        self.recognizer = recognizer
        self.settings = settings
        self._pose_factory = pose_factory or default_pose_factory
        self._to_skeleton = to_skeleton or adapt_pose
        self._one = _Person(recognizer, settings)       # the one-person path
        self._people: dict[int, _Person] = {}           # multi-person: track id -> state
        self._pairs: dict[tuple[int, int], _Person] = {}
        self.tracker = Tracker(max_persons=max(1, settings.persons), reset_after_s=settings.reset_after_s)
        self._pose: PoseEstimator | None = None
        self._pose_key: tuple | None = None
        self._follow: int | None = None
        self._last_skeleton: Skeleton | None = None

    # The one-person path's state, as before multi-person support.
    @property
    def buffer(self) -> WindowBuffer:
        return self._one.buffer

    @property
    def smoother(self) -> Smoother:
        return self._one.smoother

    @property
    def prediction(self) -> Prediction | None:
        return self._one.prediction

    def sync(self, settings: RuntimeSettings) -> None:
        """Apply new settings and a swapped model to every buffer and smoother."""
        self.settings = settings
        for p in (self._one, *self._people.values(), *self._pairs.values()):
            p.sync(self.recognizer, settings)
        if self.tracker.max_persons != max(1, settings.persons):
            self.tracker = Tracker(max_persons=max(1, settings.persons), reset_after_s=settings.reset_after_s)
            self._people.clear()
            self._pairs.clear()

    def _pose_for(self, mirrored: bool) -> PoseEstimator:
        s = self.settings
        key = (mirrored, s.persons, s.pose_tiles)
        if self._pose is None or self._pose_key != key:
            if self._pose is not None:
                self._pose.close()
                self._pose = None
            if s.persons > 1 or s.pose_tiles > 1:
                self._pose = self._pose_factory(mirrored=mirrored, persons=s.persons, tiles=s.pose_tiles)
            else:
                self._pose = self._pose_factory(mirrored=mirrored)
            self._pose_key = key
        return self._pose

    def close(self) -> None:
        """Close the pose estimator (a later frame opens a new one)."""
        if self._pose is not None:
            try:
                self._pose.close()
            finally:
                self._pose = None

    def _predict(self, window: Window, frame: Frame, captured_at: float) -> Prediction | None:
        pred = self.recognizer.predict(window, frame_index=frame.index)
        return None if pred is None else dataclasses.replace(pred, latency_s=time.monotonic() - captured_at)

    def step(self, frame: Frame, captured_at: float, decode_ms: float = 0.0, mirrored: bool = False,
             settings: RuntimeSettings | None = None) -> StepResult:
        """Run the whole pipeline on one frame (``captured_at``: monotonic capture time)."""
        self.sync(settings or self.settings)
        s = self.settings
        tm: dict[str, float] = {"decode": decode_ms}
        clock = time.perf_counter
        t0 = clock()
        if isinstance(frame, SkeletonFrame):  # replayed clip: skeletons are given, no pose stage
            results: PoseResult | list | None = None
            # A pair's clip carries the partner in ``others``: tracked with the rest when persons > 1.
            skeletons = [sk for sk in (frame.skeleton, *frame.others) if sk is not None]
            t2 = t1 = clock()
        else:
            mir = s.mirror if s.mirror is not None else mirrored
            results = self._pose_for(mir).process(frame)
            t1 = clock()
            if isinstance(results, list):
                skeletons = [sk for sk in (self._to_skeleton(r) for r in results) if sk is not None]
            else:
                sk = self._to_skeleton(results)
                skeletons = [sk] if sk is not None else []
            t2 = clock()
        if s.persons <= 1 and not isinstance(results, list):
            return self._step_one(frame, captured_at, skeletons[0] if skeletons else None, tm, t0, t1, t2)
        return self._step_many(frame, captured_at, skeletons, tm, t0, t1, t2)

    def finish(self, frame: Frame, captured_at: float) -> StepResult | None:
        """The end of a finite source (a file played once): one last decision for each person still in
        view whose stretch was too short to fill the window's ``min_frames`` -- a 1.5 s gesture gets a label.

        ``frame`` is the source's last frame.  Returns None when there is nothing to decide (nobody in
        view, every decision already made, or under :data:`FINAL_MIN_S` of motion).  Two-person models
        judge pairs by full windows only.
        """
        s, rec = self.settings, self.recognizer
        if rec.config.persons > 1:
            return None
        if not self._people:  # the one-person path
            one = self._one
            pred = self._final_prediction(one, frame, captured_at)
            if pred is None:
                return None
            skeleton = self._last_skeleton
            state, events = one.update(frame.t, pred, True, skeleton, s, rec, ready=True)
            return StepResult(skeleton, one.prediction, state, tuple(events), {}, True, pred)
        out, newest = [], None
        for tr in sorted(self.tracker.tracks, key=lambda tr: tr.id):
            st = self._people.get(tr.id)
            pred = self._final_prediction(st, frame, captured_at) if st is not None and tr.missed == 0 else None
            if pred is None:
                if st is not None:
                    out.append(PersonResult(tr.id, tr.box, tr.skeleton if tr.missed == 0 else None, st.prediction,
                                            st.smoother.state, ()))
                continue
            newest = pred
            state, events = st.update(frame.t, pred, True, tr.skeleton, s, rec, ready=True)
            out.append(PersonResult(tr.id, tr.box, tr.skeleton, st.prediction, state, _tagged(events, person=tr.id)))
        if newest is None:
            return None
        return _many_result(tuple(out), self._follow, self._one.smoother.state, {}, True, newest)

    def _final_prediction(self, person: _Person, frame: Frame, captured_at: float) -> Prediction | None:
        if person.prediction is not None or not person.buffer.person:
            return None
        window = person.buffer.window(min_frames=max(2, int(round(FINAL_MIN_S * person.buffer.fps))))
        return None if window is None else self._predict(window, frame, captured_at)

    def _step_one(self, frame: Frame, captured_at: float, skeleton: Skeleton | None, tm: dict[str, float],
                  t0: float, t1: float, t2: float) -> StepResult:
        s, one, clock = self.settings, self._one, time.perf_counter
        self._last_skeleton = skeleton
        one.buffer.push(skeleton, frame.t)
        one.since_pred += 1
        person = skeleton is not None
        window = one.buffer.window() if one.wants_prediction(person, s.every_k) else None
        t3 = clock()
        new_pred = self._predict(window, frame, captured_at) if window is not None else None
        t4 = clock()
        state, events = one.update(frame.t, new_pred, person, skeleton, s, self.recognizer)
        t5 = clock()
        tm.update(pose=(t1 - t0) * 1e3, adapt=(t2 - t1) * 1e3, buffer=(t3 - t2) * 1e3, model=(t4 - t3) * 1e3,
                  smooth=(t5 - t4) * 1e3, total=(time.monotonic() - captured_at) * 1e3)
        return StepResult(skeleton, one.prediction, state, tuple(events), tm, window is not None, new_pred)

    def _step_many(self, frame: Frame, captured_at: float, skeletons: list[Skeleton], tm: dict[str, float],
                   t0: float, t1: float, t2: float) -> StepResult:
        s, rec, clock = self.settings, self.recognizer, time.perf_counter
        tracks = self.tracker.update(frame.t, skeletons)
        for gone in self.tracker.ended:
            self._people.pop(gone, None)
            for key in [k for k in self._pairs if gone in k]:
                del self._pairs[key]
        alive = {tr.id: tr for tr in tracks}
        for tid, tr in alive.items():
            st = self._people.setdefault(tid, _Person(rec, s))
            st.buffer.push(tr.skeleton if tr.missed == 0 else None, frame.t)
            st.since_pred += 1
        t3 = clock()
        ran = False
        newest: Prediction | None = None
        out: dict[int, PersonResult] = {}
        pair_of: dict[int, int] = {}
        if rec.config.persons >= 2:
            # A two-person model judges the pair of tracks closest to each other, as one input.
            pair = closest_pair([tr for tr in tracks if tr.missed == 0])
            if pair is not None:
                a, b = sorted((pair[0].id, pair[1].id))
                pair_of = {a: b, b: a}
                ps = self._pairs.setdefault((a, b), _Person(rec, s))
                pa, pb = self._people[a], self._people[b]
                ready = pa.buffer.ready and pb.buffer.ready
                ps.since_pred += 1
                new_pred = None
                if ready and (ps.prediction is None or ps.since_pred >= s.every_k):
                    wa, wb = pa.buffer.window(), pb.buffer.window()
                    n = min(len(wa.t), len(wb.t))
                    w = Window(joints=np.stack([wa.joints[-n:], wb.joints[-n:]]),
                               confidence=np.stack([wa.confidence[-n:], wb.confidence[-n:]]), t=wa.t[-n:], fps=wa.fps)
                    new_pred = self._predict(w, frame, captured_at)
                    ran = True
                    newest = new_pred or newest
                state, events = ps.update(frame.t, new_pred, True, alive[a].skeleton, s, rec, ready=ready)
                ev = _tagged(events, person=a, partner=b)
                for tid in (a, b):
                    out[tid] = PersonResult(tid, alive[tid].box, alive[tid].skeleton, ps.prediction, state,
                                            ev if tid == a else (), pair_of[tid])
        for tid, tr in alive.items():
            if tid in out:
                continue
            st = self._people[tid]
            seen = tr.missed == 0
            new_pred = None
            if rec.config.persons <= 1 and st.wants_prediction(seen, s.every_k):
                new_pred = self._predict(st.buffer.window(), frame, captured_at)
                ran = True
                newest = new_pred or newest
            state, events = st.update(frame.t, new_pred, seen, tr.skeleton if seen else None, s, rec)
            out[tid] = PersonResult(tid, tr.box, tr.skeleton if seen else None, st.prediction, state,
                                    _tagged(events, person=tid))
        t4 = clock()
        persons = tuple(out[tid] for tid in sorted(out))
        # Selection is sticky: the person asked for, else the one followed so far while their track
        # lives (coasting included), else the largest -- so a recording never jumps to someone else.
        chosen = alive.get(s.select) if s.select is not None else None
        if chosen is None and self._follow in alive:
            chosen = alive[self._follow]
        if chosen is None:
            chosen = largest([tr for tr in tracks if tr.missed == 0] or tracks)
        self._follow = chosen.id if chosen is not None else None
        nobody = None
        if chosen is None:  # (every live track is in ``out``)
            nobody, _ = self._one.smoother.update(frame.t, None, person=False)
        t5 = clock()
        tm.update(pose=(t1 - t0) * 1e3, adapt=(t2 - t1) * 1e3, buffer=(t3 - t2) * 1e3, model=(t4 - t3) * 1e3,
                  smooth=(t5 - t4) * 1e3, total=(time.monotonic() - captured_at) * 1e3)
        return _many_result(persons, self._follow, nobody, tm, ran, newest)
