"""``ms2l infer``: any video source to per-frame actions, without a screen.

Writes one JSON line per input frame::

    {"t": 1.2, "frame": 36, "persons": [{"id": 1, "box": [x0, y0, x1, y1], "action": "wave",
     "state": "action", "top": [{"label": "wave", "p": 0.81}, ...]}, ...], "selected": 1,
     "person": true, "top": [...], "action": "wave", "state": "action", "novelty": 0.4}

``persons`` lists every tracked person (``--persons N``, default 3; ids stable across
frames, boxes in pixels; a two-person model's pair carry each other's id as
``partner``); the top-level ``person``/``top``/``action``/``state``/``novelty`` are the
selected (largest) person's, the format ``ms2l infer`` wrote before it followed several
people -- ``--persons 1`` is that fast one-person path (``persons`` then holds id 0).

``t`` is the frame time in seconds (media time for files, the monotonic clock for
cameras), ``top`` the latest raw class probabilities, best first (empty while
nobody is seen or the window fills), ``action`` the smoothed label or null,
``state`` one of ``action``, ``none`` (none of these: unlike every action the model
knows), ``unknown`` (no action confident enough), ``still``, ``background`` (the
model's own "nothing" label), ``no_person``, ``warming_up``; ``novelty`` the smoothed
distance to the nearest known action over the model's threshold (null for a model
without rejection).
A file that ends while its person's stretch is still too short for a regular decision
(a 1.5 s gesture played once) gets one more line for its last frame, marked
``"final": true``: the decision on what was seen (at least 0.5 s of motion).
By default every frame is processed in order (deterministic); ``--realtime``
runs the threaded runtime at the source's pace, as the app does, and frames the
pipeline could not keep up with are written with ``"dropped": true`` and the
state of the frame before them.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..types import ActionEvent


def add_commands(sub: Any) -> None:
    """Register ``infer`` on the ``ms2l`` sub-command parser."""
    q = sub.add_parser(
        "infer", help="recognise actions in a video, folder, stream or camera; write JSON lines",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("source", metavar="SOURCE",
                   help="video file, image folder, URL, camera:N, or a skeleton clip (.npz)")
    q.add_argument("--model", default="default", help="model file, or 'default' for the shipped model (default)")
    q.add_argument("--out", required=True, type=Path, help="per-frame predictions (JSON lines)")
    q.add_argument("--events", type=Path, help="also write action start/end events (JSON lines)")
    q.add_argument("--annotated", type=Path, help="also write a video with the skeleton and the action (.avi: MJPG, .mp4: mp4v)")
    q.add_argument("--realtime", action="store_true",
                   help="run at the source's pace with the threaded runtime (frames may be dropped, as live)")
    q.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda (default: auto)")
    q.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch", "int8"],
                   help="auto: ONNX Runtime on CPU, torch on CUDA; int8: quantised torch on CPU (default: auto)")
    q.add_argument("--max-frames", type=int, help="stop after this many input frames")
    q.add_argument("--every-k", type=int, default=1, help="classify every k-th frame (default: 1)")
    q.add_argument("--threshold", type=float, default=0.5, help="smoothed probability an action needs (default: 0.5)")
    q.add_argument("--smoothing", type=float, default=0.5, help="exponential smoothing weight, 0 = none (default: 0.5)")
    q.add_argument("--window", type=int, help="window length in frames at the model's rate (default: the model's)")
    q.add_argument("--min-fill", type=float, default=None,
                   help="fraction of the window needed before the first prediction (default: the model's own "
                        "choice for models trained on your clips, else 1)")
    q.add_argument("--rejection", type=float, default=1.0,
                   help="novelty above which a frame is 'none of these' (1: the model's calibrated threshold; "
                        "higher names an action more readily; default 1)")
    q.add_argument("--top", type=int, default=0, help="classes per line in 'top' (default: all)")
    q.add_argument("--persons", type=int, default=3,
                   help="people to follow, each with their own id, window and label (default: 3); 1 is the fast "
                        "one-person path")
    q.add_argument("--pose-tiles", type=int, default=0,
                   help="with several people: cut the frame into this many overlapping strips for the pose "
                        "detector (2 finds people who are small in a wide frame, e.g. a group; 1 the whole frame, "
                        "for someone close to the camera); default 0: switch between the two from the people seen")
    mirror = q.add_mutually_exclusive_group()
    mirror.add_argument("--mirrored", dest="mirrored", action="store_true", default=None,
                        help="the source shows the subject mirrored (selfie cameras, NTU's RGB videos)")
    mirror.add_argument("--not-mirrored", dest="mirrored", action="store_false")
    q.add_argument("--fps", type=float, help="frame rate of an image folder (default: 30)")
    q.set_defaults(func=cmd_infer)


def _top(pred: Any, top: int) -> list[dict[str, Any]]:
    items = pred.top(top or len(pred.labels)) if pred is not None else []
    return [{"label": k, "p": round(p, 6)} for k, p in items]


def _box(box: Any) -> list[float] | None:
    import numpy as np

    b = np.asarray(box, float) if box is not None else None
    return [round(float(v), 1) for v in b] if b is not None and np.isfinite(b).all() else None


def _person(pid: int, box: Any, state: Any, pred: Any, top: int, partner: int | None = None) -> dict[str, Any]:
    d = {"id": pid, "box": _box(box), "action": state.action if state is not None else None,
         "state": state.state if state is not None else None, "top": _top(pred, top)}
    if partner is not None:
        d["partner"] = partner
    return d


def _line(snap: Any, top: int) -> dict[str, Any]:
    f, pred, state = snap.frame, snap.prediction, snap.state
    line = {
        "t": round(float(f.t), 6), "frame": int(f.index), "person": snap.skeleton is not None,
        "top": _top(pred, top),
        "action": state.action if state is not None else None,
        "state": state.state if state is not None else None,
        "novelty": None if state is None or state.novelty is None else round(float(state.novelty), 4),
    }
    if snap.persons:
        line["persons"] = [_person(p.id, p.box, p.state, p.prediction, top, p.partner) for p in snap.persons]
        line["selected"] = snap.selected
    elif snap.skeleton is not None:  # the one-person path: that person, id 0
        from ..live.tracker import skeleton_box

        line["persons"] = [_person(0, skeleton_box(snap.skeleton), state, pred, top)]
    else:
        line["persons"] = []
    return line


def _event(e: ActionEvent) -> dict[str, Any]:
    return {"t": round(float(e.t), 6), "kind": e.kind, "action": e.action, **e.extra}


class _Writer:
    """Writes prediction lines, event lines and annotated frames; fills dropped frames in realtime mode."""

    def __init__(self, out: IO[str], events: IO[str] | None, video_path: Path | None, fps: float, top: int, bar: Any):
        self.out, self.events, self.video_path, self.fps, self.top, self.bar = out, events, video_path, fps, top, bar
        self.video = None
        self.prev: dict[str, Any] | None = None
        self.lines = self.dropped = self.n_events = 0

    def write(self, snap: Any) -> None:
        line = _line(snap, self.top)
        prev = self.prev
        if prev is not None and line["frame"] == prev["frame"]:  # the end-of-source decision on the last frame
            self._emit({**line, "final": True}, count=False)
            self.prev = line
            self._write_events(snap)
            return
        if prev is not None and line["frame"] > prev["frame"] + 1:  # frames the realtime pipeline skipped
            gap = line["frame"] - prev["frame"]
            for i in range(prev["frame"] + 1, line["frame"]):
                t = prev["t"] + (line["t"] - prev["t"]) * (i - prev["frame"]) / gap
                self._emit({**prev, "t": round(t, 6), "frame": i, "dropped": True})
                self.dropped += 1
        self._emit(line)
        self.prev = line
        self._write_events(snap)
        if self.video_path is not None:
            self._frame(snap)

    def _write_events(self, snap: Any) -> None:
        if self.events is not None:
            for e in snap.new_events:
                self.events.write(json.dumps(_event(e)) + "\n")
                self.n_events += 1

    def _emit(self, line: dict[str, Any], count: bool = True) -> None:
        self.out.write(json.dumps(line) + "\n")
        self.lines += 1
        if self.bar is not None and count:
            self.bar.update(1)

    def _frame(self, snap: Any) -> None:
        from ..live.draw import draw_overlay, video_writer

        img = draw_overlay(snap.frame.image, snap.skeleton, snap.state, snap.prediction)
        if self.video is None:
            h, w = img.shape[:2]
            self.video = video_writer(str(self.video_path), self.fps, (w, h))
        self.video.write(img)

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


def cmd_infer(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..live.runtime import Runtime, RuntimeSettings
    from ..live.sources import SourceError, frame_count, open_source

    if a.every_k < 1 or (a.max_frames is not None and a.max_frames < 1):
        raise SystemExit("ms2l infer: --every-k and --max-frames must be at least 1")
    try:
        settings = RuntimeSettings(threshold=a.threshold, smoothing=a.smoothing, every_k=a.every_k, window=a.window,
                                   min_fill=a.min_fill, device=a.device, backend=a.backend, realtime=True,
                                   rejection=a.rejection, persons=a.persons, pose_tiles=a.pose_tiles)
    except ValueError as e:
        raise SystemExit(f"ms2l infer: {e}")
    try:
        source = open_source(a.source, mirrored=a.mirrored, fps=a.fps)
    except SourceError as e:
        print(f"ms2l infer: error: {e}", file=sys.stderr)
        return 2
    try:
        runtime = Runtime(a.model, settings=settings)
    except Exception:
        source.close()
        raise
    total = frame_count(source)
    if a.max_frames is not None:
        total = min(total, a.max_frames) if total else a.max_frames
    a.out.parent.mkdir(parents=True, exist_ok=True)
    out = open(a.out, "w")
    events = open(a.events, "w") if a.events else None
    bar = tqdm(total=total, desc="infer", unit="frame", file=sys.stderr, dynamic_ncols=True)
    writer = _Writer(out, events, a.annotated, source.fps or 30.0, a.top, bar)
    t0 = time.perf_counter()
    status = 0
    try:
        if a.realtime:
            status = _run_realtime(runtime, source, writer, a.max_frames)
        else:
            for snap in runtime.run(source, max_frames=a.max_frames):
                writer.write(snap)
    except SourceError as e:
        print(f"\nms2l infer: error: {e}", file=sys.stderr)
        status = 2
    finally:
        runtime.close()
        writer.close()
        bar.close()
        out.close()
        if events is not None:
            events.close()
    st = runtime.snapshot().stats
    wall = time.perf_counter() - t0
    print(f"{writer.lines} lines -> {a.out} ({st.processed} frames processed, {writer.dropped} dropped, "
          f"{st.processed / wall if wall > 0 else 0:.1f} fps, model {st.model} on {st.device}/{st.backend})"
          + (f"; {writer.n_events} events -> {a.events}" if a.events else "")
          + (f"; video -> {a.annotated}" if a.annotated else ""), file=sys.stderr)
    return status


def _run_realtime(runtime: Any, source: Any, writer: _Writer, max_frames: int | None) -> int:
    """Threaded runtime at the source's pace; returns an exit status."""
    done = threading.Event()
    lock = threading.Lock()

    def on_snapshot(snap: Any) -> None:
        if max_frames is not None and snap.frame.index >= max_frames:
            done.set()
            return
        with lock:
            writer.write(snap)
        if max_frames is not None and snap.frame.index >= max_frames - 1:
            done.set()

    runtime.add_listener(on_snapshot)
    runtime.open(source)
    status = 0
    try:
        while not done.is_set() and runtime.running:
            done.wait(0.1)
            for e in runtime.poll_errors():
                print(f"\nms2l infer: error: {e}", file=sys.stderr)
                status = 2
    finally:
        runtime.close()
    for e in runtime.poll_errors():
        print(f"\nms2l infer: error: {e}", file=sys.stderr)
        status = 2
    return status
