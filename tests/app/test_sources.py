"""Sources: files, folders, skeleton clips, cameras (faked: there is none here), errors and reopening."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import app.live.sources as sources
from app.live.sources import (SkeletonClipSource, SkeletonFrame, SourceError, list_cameras, open_source, parse_camera,
                         save_skeleton_clip)
from app.types import Skeleton
from fakes import body


def _write_video(path, n=5, size=(64, 48), fps=10.0):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), i * 40, np.uint8))
    w.release()
    return path


def test_video_file_frames_and_media_time(videos_dir):
    src = open_source(videos_dir / "calisthenics-3people.avi")
    assert src.fps == pytest.approx(10.0) and src.frame_count == 393 and not src.mirrored
    frames = [src.read() for _ in range(5)]
    assert [f.index for f in frames] == list(range(5))
    assert [f.t for f in frames] == pytest.approx([i / 10 for i in range(5)])
    assert frames[0].image.shape == (288, 384, 3) and frames[0].image.dtype == np.uint8
    src.close()
    with pytest.raises(SourceError, match="closed"):
        src.read()


def test_mirrored_is_a_source_property(videos_dir):
    assert open_source(videos_dir / "ntu-two-person.avi", mirrored=True).mirrored


def test_file_end_and_loop(tmp_path):
    path = _write_video(tmp_path / "v.avi", n=5)
    src = open_source(path)
    assert [src.read().index for _ in range(5)] == list(range(5))
    assert src.read() is None
    looped = open_source(path, loop=True)
    frames = [looped.read() for _ in range(12)]
    assert [f.index for f in frames] == list(range(12))
    assert np.all(np.diff([f.t for f in frames]) > 0), "media time keeps growing across loops"


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(SourceError, match="cannot read|no frame"):
        open_source(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(empty)
    with pytest.raises(SourceError, match="empty source"):
        open_source("  ")


def test_image_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.png"), np.full((20, 30, 3), i, np.uint8))
    src = open_source(tmp_path, fps=5)
    frames = [src.read() for _ in range(3)]
    assert src.read() is None
    assert [f.t for f in frames] == pytest.approx([0, 0.2, 0.4])
    assert frames[2].image[0, 0, 0] == 2
    (tmp_path / "f001.png").write_bytes(b"garbage")
    src = open_source(tmp_path)
    src.read()
    with pytest.raises(SourceError, match="cannot read image"):
        src.read()


def test_skeleton_clip_replay(tmp_path):
    skels = [Skeleton(t=i / 30, frame_index=i, joints=body(i / 30), confidence=np.ones(25, np.float32))
             for i in range(6)]
    skels[3] = None
    path = save_skeleton_clip(tmp_path / "clip.npz", skels, timestamps=[i / 30 for i in range(6)])
    src = open_source(path)
    assert isinstance(src, SkeletonClipSource) and src.fps == pytest.approx(30)
    frames = [src.read() for _ in range(6)]
    assert src.read() is None
    assert all(isinstance(f, SkeletonFrame) for f in frames)
    assert frames[3].skeleton is None and frames[2].skeleton is not None
    np.testing.assert_allclose(frames[2].skeleton.joints, skels[2].joints)
    assert frames[2].skeleton.image_points.shape == (25, 2)
    # Head above the feet on the canvas.
    assert frames[2].skeleton.image_points[3, 1] < frames[2].skeleton.image_points[15, 1]


def test_bad_skeleton_clip(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, joints=np.zeros((4, 20, 3)))
    with pytest.raises(SourceError, match="25, 3"):
        open_source(p)
    q = tmp_path / "y.npz"
    q.write_bytes(b"nope")
    with pytest.raises(SourceError, match="cannot read skeleton clip"):
        open_source(q)


def test_parse_camera():
    assert parse_camera("camera:2") == 2 and parse_camera("0") == 0
    assert parse_camera("video.mp4") is None
    with pytest.raises(SourceError):
        parse_camera("camera:x")


def test_missing_camera_is_a_clear_error():
    with pytest.raises(SourceError, match="cannot open camera 7"):
        open_source("camera:7")


class FakeCapture:
    """Stands in for cv2.VideoCapture on a camera: delivers ``budget`` frames, then nothing."""

    budget = 3
    present = {0}

    def __init__(self, index):
        self.index, self.left = index, FakeCapture.budget

    def isOpened(self):
        return self.index in FakeCapture.present

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self):
        pass


def test_camera_that_stops_delivering_then_reopens(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(sources, "STALL_TIMEOUT_S", 0.2)
    cam = open_source("camera:0")
    assert cam.live and cam.name == "camera:0"
    frames = [cam.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[1].t >= frames[0].t  # monotonic clock
    with pytest.raises(SourceError, match="stopped delivering"):
        cam.read()
    cam.reopen()  # plugged back in
    assert cam.read().index == 0
    assert list_cameras(3) == [0]


def test_stream_url_failure_is_clear():
    with pytest.raises(SourceError, match="stream"):
        open_source("rtsp://127.0.0.1:9/none")
