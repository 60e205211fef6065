"""Several people through the runtime: per-person ids, windows, labels; two-person models; sticky selection."""
from __future__ import annotations

import numpy as np
import pytest

from app.cli.infer import _line
from app.live.runtime import Runtime
from app.settings import RuntimeSettings
from app.types import Frame, PoseResult
from fakes import FakeSource, body, tiny_model


class TwoPeople:
    """A multi-person pose stage: person 0 (small, left) always; person 1 (large, right) until ``leave_at``."""

    def __init__(self, mirrored: bool = False, persons: int = 3, tiles: int = 1, leave_at: float = 1e9):
        self.leave_at = leave_at

    def _one(self, frame: Frame, who: int, scale: float, dx: float) -> PoseResult:
        pts = body(frame.t, person=who)
        pts[:, 0] += dx
        ip = np.stack([320 + dx * 400 - pts[:, 0] * 200 * scale, 400 - pts[:, 1] * 200 * scale], 1).astype(np.float32)
        return PoseResult(frame_index=frame.index, t=frame.t, points=pts, image_points=ip,
                          confidence=np.ones(25, np.float32), layout="kinect_v2")

    def process(self, frame: Frame) -> list[PoseResult]:
        out = [self._one(frame, 0, 0.6, -0.5)]
        if frame.t < self.leave_at:
            out.append(self._one(frame, 1, 1.0, 0.5))
        return out

    def close(self) -> None:
        pass


def _run(model, n=60, **kw):
    leave = kw.pop("leave_at", 1e9)
    rt = Runtime(str(model), settings=RuntimeSettings(every_k=1, realtime=False, persons=3, **kw),
                 pose_factory=lambda mirrored=False, persons=3, tiles=1: TwoPeople(leave_at=leave))
    return list(rt.run(FakeSource(n=n, fps=30.0)))


def test_every_person_gets_a_stable_id_a_window_and_a_label(tmp_path):
    snaps = _run(tiny_model(tmp_path / "m.safetensors", window=8), threshold=0.0)  # any top class starts
    ids = [tuple(p.id for p in s.persons) for s in snaps]
    assert all(i == ids[0] for i in ids) and len(ids[0]) == 2  # the same two ids on every frame
    last = snaps[-1]
    assert all(p.prediction is not None and p.state.state in ("action", "unknown") for p in last.persons)
    big = max(last.persons, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]))
    assert last.selected == big.id and last.skeleton is big.skeleton  # the side panel follows the largest
    line = _line(last, 2)
    assert [p["id"] for p in line["persons"]] == list(ids[0]) and line["selected"] == big.id
    assert all(len(p["box"]) == 4 and len(p["top"]) == 2 for p in line["persons"])
    ev = [e for s in snaps for e in s.new_events]
    assert ev and all("person" in e.extra for e in ev)


def test_selection_sticks_to_the_person_followed_until_their_track_ends(tmp_path):
    snaps = _run(tiny_model(tmp_path / "m.safetensors", window=8), n=120, leave_at=1.0, reset_after_s=0.5)
    first = snaps[10].selected
    for s in snaps:
        if s.frame.t < 1.0:
            assert s.selected == first
        elif s.frame.t < 1.3:  # coasting: still the same person, seen by nobody
            assert s.selected == first and s.skeleton is None
    late = snaps[-1]
    assert late.selected != first and len(late.persons) == 1  # their track ended; the other person now


def test_a_two_person_model_judges_the_closest_pair(tmp_path):
    snaps = _run(tiny_model(tmp_path / "m2.safetensors", window=8, persons=2))
    last = snaps[-1]
    a, b = last.persons
    assert a.partner == b.id and b.partner == a.id
    assert a.prediction is not None and a.prediction is b.prediction  # one prediction for the pair
    assert a.state.state in ("action", "unknown")


def test_one_person_settings_keep_the_fast_path(tmp_path):
    from fakes import pose_factory

    rt = Runtime(str(tiny_model(tmp_path / "m.safetensors", window=8)),
                 settings=RuntimeSettings(every_k=1, realtime=False), pose_factory=pose_factory())
    snaps = list(rt.run(FakeSource(n=20)))
    assert all(s.persons == () for s in snaps) and snaps[-1].prediction is not None
    assert [p["id"] for p in _line(snaps[-1], 1)["persons"]] == [0]
    with pytest.raises(ValueError):
        RuntimeSettings(persons=0)


def test_a_two_person_clip_replays_as_two_tracked_people_for_a_two_person_model(tmp_path):
    # A pair from the library (joints[2, T, 25, 3]) replayed: both people tracked, the pair judged.
    from app.live.sources import SkeletonClipSource
    from pose_adapters.clipfile import SkeletonClip, write_clip

    T = 60
    t = np.arange(T) / 30.0
    joints = np.stack([np.stack([body(x, person=m) + np.array([1.2 * m - 0.6, 0, 0], np.float32) for x in t])
                       for m in range(2)]).astype(np.float32)                     # [2, T, 25, 3]
    conf = np.ones((2, T, 25), np.float32)
    conf[1, 40:] = 0.0  # the partner leaves the view
    path = write_clip(tmp_path / "pair.npz", SkeletonClip(joints, conf, t, fps=30.0, label="hug"))
    src = SkeletonClipSource(path)
    assert src.persons == 2
    first = src.read()
    assert first.skeleton is not None and len(first.others) == 1
    model = tiny_model(tmp_path / "m2.safetensors", window=8, persons=2)
    rt = Runtime(str(model), settings=RuntimeSettings(every_k=1, realtime=False, persons=3))
    snaps = list(rt.run(SkeletonClipSource(path)))
    a, b = snaps[30].persons
    assert a.partner == b.id and b.partner == a.id and a.prediction is not None
    assert len(snaps[-1].persons) == 1  # after the partner left (and the track ended)
    # One person followed: the first person's stream, as before.
    one = list(Runtime(str(model), settings=RuntimeSettings(every_k=1, realtime=False)).run(SkeletonClipSource(path)))
    assert all(s.persons == () for s in one)
