"""WindowBuffer: resampling by timestamp to the model rate, filling, and resets."""
from __future__ import annotations

import numpy as np
import pytest

from app.live.window import WindowBuffer, interpolate
from app.types import Skeleton


def skel(t: float, conf: np.ndarray | None = None) -> Skeleton:
    """Joints that are a known linear function of time: x = 2t + 1, y = -t, z = joint index."""
    j = np.zeros((25, 3), np.float32)
    j[:, 0] = 2 * t + 1
    j[:, 1] = -t
    j[:, 2] = np.arange(25)
    return Skeleton(t=t, frame_index=0, joints=j, confidence=np.ones(25, np.float32) if conf is None else conf)


@pytest.mark.parametrize("source_fps", [15, 30, 60])
@pytest.mark.parametrize("model_fps", [15.0, 30.0])
def test_resamples_to_model_rate(source_fps, model_fps):
    buf = WindowBuffer(model_fps, window=16, reset_after_s=1.0)
    t0 = 100.0  # a monotonic clock does not start at 0
    n = int(3 * source_fps)
    for i in range(n):
        buf.push(skel(t0 + i / source_fps))
    w = buf.window()
    assert w is not None and w.fps == model_fps
    assert w.joints.shape == (16, 25, 3) and w.confidence.shape == (16, 25) and w.t.shape == (16,)
    np.testing.assert_allclose(np.diff(w.t), 1 / model_fps, atol=1e-9)
    assert w.t[-1] == pytest.approx(t0 + (n - 1) / source_fps)  # ends at the newest frame
    np.testing.assert_allclose(w.joints[:, 0, 0], 2 * w.t + 1, atol=1e-4)
    np.testing.assert_allclose(w.joints[:, 5, 1], -w.t, atol=1e-4)
    np.testing.assert_allclose(w.joints[:, :, 2], np.tile(np.arange(25), (16, 1)))


def test_jittery_timestamps_and_dropped_frames():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.01, 0.06, 200)) + 5  # 17-100 fps, uneven
    buf = WindowBuffer(15.0, window=32, reset_after_s=1.0)
    for ti in t:
        buf.push(skel(ti))
    w = buf.window()
    np.testing.assert_allclose(np.diff(w.t), 1 / 15, atol=1e-9)
    np.testing.assert_allclose(w.joints[:, 0, 0], 2 * w.t + 1, atol=1e-4)


def test_window_fills_before_first_output():
    buf = WindowBuffer(15.0, window=16, reset_after_s=1.0)
    first = None
    for i in range(60):
        buf.push(skel(i / 30))
        if buf.window() is not None and first is None:
            first = i
    # 16 frames at 15 fps span 15/15 = 1 s: the frame at t = 1.0 completes the window.
    assert first == 30
    half = WindowBuffer(15.0, window=16, reset_after_s=1.0, min_frames=8)
    for i in range(15):
        half.push(skel(i / 30))
    assert half.window().joints.shape[0] == 8


def test_person_lost_longer_than_reset_after_s_resets():
    buf = WindowBuffer(15.0, window=8, reset_after_s=0.5)
    for i in range(30):
        buf.push(skel(i / 30))
    assert buf.window() is not None
    buf.push(None, t=1.1)
    assert buf.window() is None, "nobody in the newest frame: no window"
    assert len(buf) > 0, "a short gap keeps the history"
    buf.push(None, t=29 / 30 + 0.6)
    assert len(buf) == 0 and buf.resets == 1


def test_short_gap_is_bridged():
    buf = WindowBuffer(15.0, window=16, reset_after_s=1.0)
    for i in range(30):
        buf.push(skel(i / 30))
    for i in range(30, 40):
        buf.push(None, t=i / 30)
    for i in range(40, 45):
        buf.push(skel(i / 30))
    w = buf.window()
    assert w is not None and w.t[-1] == pytest.approx(44 / 30)
    np.testing.assert_allclose(w.joints[:, 0, 0], 2 * w.t + 1, atol=1e-4)  # linear across the gap


def test_gap_without_none_pushes_resets_and_time_going_back_resets():
    buf = WindowBuffer(15.0, window=4, reset_after_s=0.5)
    for i in range(10):
        buf.push(skel(i / 30))
    buf.push(skel(5.0))
    assert len(buf) == 1
    buf.push(skel(1.0))  # a file restarted
    assert len(buf) == 1 and buf.resets == 2
    with pytest.raises(ValueError):
        buf.push(None)


def test_missing_joint_is_not_dragged_to_zero():
    ts = np.array([0.0, 1.0])
    joints = np.ones((2, 25, 3), np.float32)
    conf = np.ones((2, 25), np.float32)
    conf[1, 7] = 0.0
    joints[1, 7] = 0.0
    j, c = interpolate(ts, joints, conf, np.array([0.0, 0.9]))
    np.testing.assert_allclose(j[1, 7], 1.0)
    assert c[1, 7] == 1.0


def test_old_skeletons_are_discarded():
    buf = WindowBuffer(15.0, window=8, reset_after_s=1.0)
    for i in range(1000):
        buf.push(skel(i / 60))
    assert len(buf) <= (8 + 2) * 4 + 2  # about window + one step, at 4 samples per model frame
