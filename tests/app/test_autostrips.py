"""Whole frame or strips, chosen from the people seen (``pose_tiles = 0``): fakes, then real video."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.live.autostrips import AutoStrips
from app.types import Frame, PoseResult

W, H = 400, 300


def _person(x0: float, width: float) -> PoseResult:
    """A fake pose whose 33 landmarks span ``[x0, x0 + width]`` pixels across."""
    xs = np.linspace(x0, x0 + width, 33)
    ip = np.stack([xs, np.linspace(50, 250, 33)], -1).astype(np.float32)
    return PoseResult(0, 0.0, np.zeros((33, 3), np.float32), ip, np.ones(33, np.float32))


class Scripted:
    """A fake estimator that returns the next scripted list of people each frame."""

    def __init__(self, script: list[list[PoseResult]]):
        self.script, self.calls, self.closed = list(script), 0, False

    def process(self, frame: Frame) -> list[PoseResult]:
        out = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return out

    def close(self) -> None:
        self.closed = True


def _frames(n: int):
    image = np.zeros((H, W, 3), np.uint8)
    return [Frame(image, i / 10, i, "fake") for i in range(n)]


def _auto(whole: Scripted, strips: Scripted, **kw) -> tuple[AutoStrips, list[int]]:
    made: list[int] = []

    def make_strips() -> Scripted:
        made.append(1)
        return strips

    return AutoStrips(lambda: whole, make_strips, num_poses=3, **kw), made


def test_small_people_missed_on_the_whole_frame_switch_to_strips_after_patience():
    narrow = [_person(50, 40)]                                          # 10 % of the width, 1 of 3 found
    whole, strips = Scripted([narrow]), Scripted([[_person(50, 40), _person(150, 40), _person(300, 40)]])
    auto, made = _auto(whole, strips, patience=3)
    found = [len(auto.process(f)) for f in _frames(6)]
    assert found == [1, 1, 1, 3, 3, 3]   # three whole-frame frames, then strips
    assert made == [1] and auto.mode == "strips" and auto.switches == 1
    auto.close()
    assert whole.closed and strips.closed


def test_a_close_person_or_everyone_found_keeps_the_whole_frame():
    for script in ([[_person(100, 200)]],                                # one person half the width wide
                   [[_person(10, 40), _person(150, 40), _person(300, 40)]],  # all three found
                   [[]]):                                                # nobody
        auto, made = _auto(Scripted(script), Scripted([[]]))
        for f in _frames(10):
            auto.process(f)
        assert auto.mode == "whole" and made == [], script


def test_one_odd_frame_does_not_flip_the_mode():
    wide, narrow = [_person(100, 200)], [_person(50, 40)]
    auto, made = _auto(Scripted([narrow, narrow, wide] * 4), Scripted([[]]), patience=3)
    for f in _frames(12):
        auto.process(f)
    assert auto.mode == "whole" and made == []


def test_strips_go_back_when_someone_wide_appears_or_nobody_is_found():
    narrow = [_person(50, 40)]
    # Someone walks up to the camera: wider than ``wide`` for ``patience`` frames.
    strips = Scripted([[_person(50, 40)]] * 2 + [[_person(60, 180)]] * 5)
    whole = Scripted([narrow, narrow, [_person(60, 180)]])  # and so the whole frame sees them too
    auto, _ = _auto(whole, strips, patience=2, wide=0.35)
    modes = []
    for f in _frames(8):
        auto.process(f)
        modes.append(auto.mode)
    assert modes == ["whole", "strips", "strips", "strips", "strips", "whole", "whole", "whole"]
    # The strips see nobody for ``empty_patience`` frames: back to the whole frame.
    auto, _ = _auto(Scripted([narrow]), Scripted([[]]), patience=1, empty_patience=4)
    modes = []
    for f in _frames(6):
        auto.process(f)
        modes.append(auto.mode)
    assert modes == ["strips", "strips", "strips", "strips", "whole", "strips"]
    assert auto.switches == 3


def test_closed_auto_strips_refuse_frames():
    auto, _ = _auto(Scripted([[]]), Scripted([[]]))
    auto.close()
    auto.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        auto.process(_frames(1)[0])


# ---------------------------------------------------------------------------------------------
# real video and photo (the app's own factory: MultiPose whole frame / 2 strips)


def _video(path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def test_auto_finds_the_three_small_people_of_calisthenics(videos_dir):
    from app.live.pipeline import default_pose_factory

    frames = _video(videos_dir / "calisthenics-3people.avi", 60)
    with default_pose_factory(persons=3, tiles=0) as est:
        counts = [len(est.process(Frame(f, i / 10, i, "calisthenics"))) for i, f in enumerate(frames)]
        assert est.mode == "strips" and est.switches == 1
    # Measured: strips from frame 7 of 120, three people in 104 of those 120 frames.
    assert np.mean(np.array(counts[20:]) == 3) >= 0.8


def test_auto_keeps_a_close_up_on_the_whole_frame():
    skimage_data = pytest.importorskip("skimage.data")
    from app.live.pipeline import default_pose_factory

    image = cv2.resize(cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR), (640, 480))
    with default_pose_factory(persons=3, tiles=0) as est:
        counts = [len(est.process(Frame(image, i / 30, i, "astronaut"))) for i in range(10)]
        assert est.mode == "whole" and est.switches == 0
    assert counts == [1] * 10
