"""Runtime: a fake source and a fake pose estimator drive the whole pipeline, deterministically
where it can be (synchronous mode) and with real threads where threads are the point."""
from __future__ import annotations

import time

import numpy as np
import pytest

from app.live.recognizer import Recognizer
from app.live.runtime import Runtime, RuntimeSettings, RuntimeSnapshot, adapt_pose
from app.live.sources import SourceError, open_source, save_skeleton_clip
from app.types import PoseResult, Skeleton
from fakes import LABELS, FakePose, FakeSource, body, pose_factory, tiny_model
from pose_adapters import JOINT_INDEX


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("rt_models")
    # window 16 frames at 15 fps: a window spans 1 s.
    return tiny_model(d / "a.safetensors"), tiny_model(d / "b.safetensors", labels=("sit", "stand"), seed=1)


@pytest.fixture(scope="module")
def recognizer(models):
    return Recognizer(models[0], device="cpu")


def make(recognizer, delay: float = 0.0, **settings) -> Runtime:
    s = RuntimeSettings(**{"every_k": 1, "realtime": False, **settings})
    return Runtime(settings=s, recognizer=recognizer, pose_factory=pose_factory(delay))


def test_predictions_appear_once_the_window_fills(recognizer):
    rt = make(recognizer)
    snaps = list(rt.run(FakeSource(n=45, fps=30.0)))
    assert len(snaps) == 45
    first = next(s.frame.index for s in snaps if s.prediction is not None)
    assert first == 30  # 16 frames at 15 fps span 1 s = frame 30 of a 30 fps source
    assert all(s.state.state == "warming_up" and s.prediction is None for s in snaps[:30])
    assert all(s.state.state in ("action", "unknown") for s in snaps[30:])
    p = snaps[-1].prediction
    assert p.labels == LABELS and p.probs.sum() == pytest.approx(1, abs=1e-6) and p.frame_index == 44
    assert snaps[-1].skeleton is not None and snaps[-1].skeleton.image_points.shape == (25, 2)
    st = snaps[-1].stats
    assert (st.frames, st.processed, st.dropped, st.backend) == (45, 45, 0, "onnx")
    assert set(snaps[-1].timings) == {"decode", "pose", "adapt", "buffer", "model", "smooth", "total"}


@pytest.mark.parametrize("fps", [15.0, 30.0, 60.0])
def test_fill_time_is_the_same_at_any_camera_rate(recognizer, fps):
    rt = make(recognizer)
    first = next(s.frame for s in rt.run(FakeSource(n=int(2 * fps), fps=fps)) if s.prediction is not None)
    assert first.t == pytest.approx(1.0)


def test_person_lost_resets_and_short_gaps_do_not(recognizer):
    # Present 0-44, gone 45-54 (0.33 s, under reset_after_s), present 55-89, gone 90-134 (1.5 s), back 135-.
    def person(i):
        return not (45 <= i < 55 or 90 <= i < 135)

    rt = make(recognizer, reset_after_s=1.0)
    snaps = list(rt.run(FakeSource(n=180, fps=30.0, person=person)))
    states = [s.state.state for s in snaps]
    assert set(states[45:55]) == {"no_person"} and set(states[90:135]) == {"no_person"}
    assert snaps[55].prediction is not None, "a short gap is bridged: predictions resume at once"
    assert all(s.prediction is None for s in snaps[135:165]), "after a long absence the window refills"
    assert set(states[135:165]) == {"warming_up"} and snaps[165].prediction is not None


def test_every_k(recognizer):
    rt = make(recognizer, every_k=3)
    snaps = list(rt.run(FakeSource(n=60, fps=30.0)))
    ran = [s.frame.index for s in snaps if s.timings["model"] > 0 and s.prediction is not None
           and s.prediction.frame_index == s.frame.index]
    assert ran == list(range(30, 60, 3))


def test_events_start_and_end(recognizer):
    rt = make(recognizer, threshold=0.0, smoothing=0.0)
    snaps = list(rt.run(FakeSource(n=80, fps=30.0, person=lambda i: i < 60)))
    events = [e for s in snaps for e in s.new_events]
    assert events[0].kind == "start" and events[0].t == pytest.approx(1.0) and events[0].action in LABELS
    assert events[-1].kind == "end" and events[-1].t == pytest.approx(2.0)
    assert snaps[-1].events == tuple(events)


def test_slow_pose_drops_frames_instead_of_queueing(recognizer):
    rt = make(recognizer, delay=0.04)
    rt.open(FakeSource(n=60, fps=200.0, delay=0.005, live=True))  # ~200 fps in, ~25 fps out
    assert rt.wait(10)
    st = rt.snapshot().stats
    rt.close()
    assert st.frames == 60 and st.dropped > 20 and st.processed + st.dropped == 60
    # Each processed frame waited at most one frame in the mailbox: no backlog.
    assert st.stage_ms["total"] < 40 + 40 + 30
    assert [e for e in rt.poll_errors()] == []


def test_snapshot_never_blocks(recognizer):
    rt = make(recognizer, delay=0.2)
    rt.open(FakeSource(n=1000, fps=30.0, live=True, delay=1 / 30))
    time.sleep(0.1)
    t0 = time.perf_counter()
    for _ in range(100):
        snap = rt.snapshot()
    assert (time.perf_counter() - t0) / 100 < 0.005
    assert isinstance(snap, RuntimeSnapshot) and snap.stats.running
    rt.close()
    assert not rt.running


def test_source_that_stops_delivering_is_reported(recognizer):
    rt = make(recognizer)
    src = FakeSource(n=100, fps=30.0, fail_after=10, live=True, delay=0.002)
    rt.open(src)
    assert rt.wait(5)
    errors = rt.poll_errors()
    assert len(errors) == 1 and isinstance(errors[0], SourceError) and "stopped delivering" in str(errors[0])
    assert rt.snapshot().stats.processed >= 1 and not rt.running
    rt.close()
    assert src.closed
    rt.open(FakeSource(n=5, fps=30.0, live=True))  # reopening works
    assert rt.wait(5) and rt.snapshot().stats.frames == 5 and rt.poll_errors() == []
    rt.close()


def test_model_swap_at_run_time(models):
    rt = make(Recognizer(models[0], device="cpu"), delay=0.0)
    rt.open(FakeSource(n=100000, fps=30.0, live=True, delay=0.002))
    deadline = time.time() + 5
    while rt.snapshot().prediction is None and time.time() < deadline:
        time.sleep(0.01)
    assert rt.snapshot().prediction.labels == LABELS
    fut = rt.set_model(models[1], wait=True)
    assert fut.done() and fut.exception() is None
    deadline = time.time() + 5
    while time.time() < deadline:
        p = rt.snapshot().prediction
        if p is not None and p.labels == ("sit", "stand"):
            break
        time.sleep(0.01)
    assert rt.snapshot().prediction.labels == ("sit", "stand")
    assert rt.snapshot().state.labels == ("sit", "stand")
    assert rt.snapshot().stats.model.endswith("b.safetensors")
    rt.set_model("/nonexistent/model.safetensors", wait=True)
    errs = rt.poll_errors()
    assert len(errs) == 1 and "no model file" in str(errs[0])
    assert rt.running and rt.recognizer.labels == ("sit", "stand")
    rt.close()


def test_update_settings(recognizer):
    rt = make(recognizer)
    with pytest.raises(ValueError):
        rt.update_settings(threshold=2.0)
    with pytest.raises(TypeError):
        rt.update_settings(colour="red")
    rt.update_settings(window=8, threshold=0.9)
    snaps = list(rt.run(FakeSource(n=20, fps=30.0)))
    assert next(s.frame.index for s in snaps if s.prediction is not None) == 14  # 8 frames at 15 fps
    assert rt.settings.threshold == 0.9 and rt._pipeline.smoother.threshold == 0.9
    rt2 = make(recognizer, window_s=0.5)
    assert next(s.frame.index for s in rt2.run(FakeSource(n=30, fps=30.0)) if s.prediction is not None) == 14


def test_pause_and_resume(recognizer):
    rt = make(recognizer, realtime=True)
    rt.open(FakeSource(n=300, fps=100.0))
    time.sleep(0.2)
    rt.pause()
    time.sleep(0.05)
    n = rt.snapshot().stats.frames
    time.sleep(0.2)
    assert rt.snapshot().stats.frames <= n + 1 and rt.snapshot().stats.paused
    rt.resume()
    time.sleep(0.2)
    assert rt.snapshot().stats.frames > n + 5
    rt.close()


def test_realtime_paces_a_file_to_its_frame_rate(recognizer):
    rt = make(recognizer, realtime=True)
    t0 = time.monotonic()
    rt.open(FakeSource(n=15, fps=50.0))
    assert rt.wait(5)
    assert time.monotonic() - t0 >= 14 / 50 - 0.02
    assert rt.snapshot().stats.camera_fps == pytest.approx(50, rel=0.2)
    rt.close()


def test_skeleton_clip_replay_skips_the_pose_stage(recognizer, tmp_path):
    skels = [Skeleton(t=i / 30, frame_index=i, joints=body(i / 30), confidence=np.ones(25, np.float32))
             for i in range(40)]
    path = save_skeleton_clip(tmp_path / "c.npz", skels)

    def no_pose(mirrored=False):
        raise AssertionError("the pose stage must not run on a skeleton clip")

    rt = Runtime(settings=RuntimeSettings(every_k=1), recognizer=recognizer, pose_factory=no_pose)
    snaps = list(rt.run(open_source(path)))
    assert len(snaps) == 40 and snaps[-1].prediction is not None and snaps[30].prediction is not None


def test_mirror_setting_reaches_the_pose_stage(recognizer):
    FakePose.instances.clear()
    list(make(recognizer).run(FakeSource(n=2, mirrored=True)))
    assert FakePose.instances[-1].mirrored is True
    list(make(recognizer, mirror=False).run(FakeSource(n=2, mirrored=True)))
    assert FakePose.instances[-1].mirrored is False
    assert FakePose.instances[-1].closed


def test_adapt_pose_mirrors_left_and_right():
    pts = body(0.3)
    ip = np.stack([320 - pts[:, 0] * 200, 400 - pts[:, 1] * 200], 1).astype(np.float32)
    r = PoseResult(frame_index=0, t=0.0, points=pts, image_points=ip, confidence=np.ones(25, np.float32),
                   layout="kinect_v2")
    plain = adapt_pose(r)
    mirrored = adapt_pose(PoseResult(**{**r.__dict__, "mirrored": True}))
    lw, rw = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    np.testing.assert_allclose(mirrored.joints[lw, 1:], plain.joints[rw, 1:])
    assert mirrored.joints[lw, 0] == pytest.approx(-plain.joints[rw, 0])
    np.testing.assert_allclose(mirrored.image_points[lw], plain.image_points[rw])
    assert adapt_pose(PoseResult(frame_index=0, t=0.0, points=None, image_points=None, confidence=None)) is None


def test_pose_errors_are_reported_not_fatal(recognizer):
    class Broken(FakePose):
        def process(self, frame):
            if frame.index % 2:
                raise RuntimeError("pose graph hiccup")
            return super().process(frame)

    rt = Runtime(settings=RuntimeSettings(every_k=1, realtime=False), recognizer=recognizer,
                 pose_factory=lambda mirrored=False: Broken(mirrored))
    rt.open(FakeSource(n=20, fps=30.0, live=True, delay=0.005))
    assert rt.wait(5)
    errs = rt.poll_errors()
    rt.close()
    assert errs and all("hiccup" in str(e) for e in errs)
    assert rt.snapshot().stats.processed >= 5
