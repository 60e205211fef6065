"""Bad input, one test each: broken videos, broken skeleton files, broken pose output, a person who
keeps coming and going, and a camera that stops.  Each gives a specific error (or a clear state) and
leaves what was there before intact: the runtime keeps its state, the library keeps its clips.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.live import sources
from app.clips import Library, LibraryError
from app.live.recognizer import Recognizer
from app.live.runtime import Runtime, RuntimeSettings
from app.live.sources import SourceError, open_source
from app.types import Frame, PoseResult
from fakes import LABELS, FakeSource, body, pose_factory, tiny_model
from pose_adapters.readers import SkeletonFileError, read_ntu_skeleton, read_nwucla
from ms2l.config import ModelConfig
from ms2l.preprocess import prepare


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    return Recognizer(tiny_model(tmp_path_factory.mktemp("bad") / "m.safetensors"), device="cpu")


def make(recognizer, pose=None, **settings) -> Runtime:
    s = RuntimeSettings(**{"every_k": 1, "realtime": False, **settings})
    return Runtime(settings=s, recognizer=recognizer, pose_factory=pose or pose_factory())


@pytest.fixture
def warm(recognizer):
    """A runtime that has already shown a prediction: bad input elsewhere must not disturb it."""
    rt = make(recognizer)
    last = list(rt.run(FakeSource(n=40, fps=30.0)))[-1]
    assert last.prediction is not None
    return rt, last


def _unchanged(rt: Runtime, before, path: Path):
    """Give the runtime ``path`` as the window does (open the source, then ``rt.open`` what opened): the
    file is refused and the runtime keeps its frame, prediction, state and full window.  Returns the
    snapshot of the one frame processed to show that (the ``before`` of the next check)."""
    try:
        rt.open(open_source(path))
    except SourceError:
        pass
    else:  # a build that let the file through: the runtime plays it, and this check fails below
        rt.wait(10)
    assert rt.poll_errors() == [] and not rt.running
    after = rt.snapshot()
    assert after.frame is before.frame and after.prediction is before.prediction and after.state is before.state
    # Its window is still full: the very next frame is classified (a runtime reset by the file would warm up).
    nxt = rt.process(Frame(image=before.frame.image, t=before.frame.t + 1 / 30, index=before.frame.index + 1,
                           source=before.frame.source))
    assert nxt.prediction is not None and nxt.prediction is not before.prediction
    return nxt


# ---------------------------------------------------------------- videos

def _video(path: Path, n: int = 30, fourcc: str = "MJPG") -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, (64, 48))
    assert w.isOpened()
    for i in range(n):
        img = np.full((48, 64, 3), 40 + 5 * i, np.uint8)  # first pixel non-zero: the fake pose sees a person
        cv2.putText(img, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        w.write(img)
    w.release()
    return path


def test_zero_byte_video(tmp_path, warm):
    rt, before = warm
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SourceError, match=r"cannot read .*empty.mp4: not a video OpenCV can decode"):
        open_source(tmp_path / "empty.mp4")
    _unchanged(rt, before, tmp_path / "empty.mp4")


def test_truncated_video_plays_what_is_there_then_says_so(tmp_path, recognizer):
    data = _video(tmp_path / "whole.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    # Synchronous (ms2l infer): the decodable frames come through, then a specific error.
    rt = make(recognizer)
    got = []
    with pytest.raises(SourceError, match=r"cut.avi ends after \d+ of its 30 frames: the file is truncated or corrupt"):
        for snap in rt.run(open_source(cut)):
            got.append(snap)
    assert 0 < len(got) < 30 and all(s.state is not None for s in got)
    # Threaded (the app): reported through poll_errors, the frames before it were processed.
    rt = make(recognizer)
    rt.open(open_source(cut))
    assert rt.wait(10)
    errors = rt.poll_errors()
    assert len(errors) == 1 and "truncated" in str(errors[0]) and rt.snapshot().stats.frames == len(got)
    rt.close()
    # Cut inside the header: refused at open.
    (tmp_path / "head.avi").write_bytes(data[:100])
    with pytest.raises(SourceError, match="not a video OpenCV can decode"):
        open_source(tmp_path / "head.avi")
    # The whole file is not mistaken for a truncated one, looping included.
    src = open_source(tmp_path / "whole.avi", loop=True)
    assert sum(src.read() is not None for _ in range(75)) == 75


def test_non_video_file_with_a_video_name(tmp_path, warm):
    rt, before = warm
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "hello " * 100)
    for name, data in (("notes.mp4", b"shopping list: eggs, milk\n" * 40), ("backup.avi", archive.getvalue()),
                       ("paper.mkv", b"%PDF-1.4\n" + np.random.default_rng(1).bytes(3000))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SourceError, match=f"cannot read .*{name}: not a video OpenCV can decode"):
            open_source(tmp_path / name)
        before = _unchanged(rt, before, tmp_path / name)


def test_unsupported_codec(tmp_path, warm):
    """A valid AVI container whose stream is in a codec nobody has: fourcc 'ZZ9Q'."""
    rt, before = warm
    data = _video(tmp_path / "ok.avi").read_bytes()
    assert data.count(b"MJPG") >= 1
    odd = tmp_path / "odd.avi"
    odd.write_bytes(data.replace(b"MJPG", b"ZZ9Q").replace(b"mjpg", b"zz9q"))
    with pytest.raises(SourceError, match="not a video OpenCV can decode"):
        open_source(odd)
    # Raw bytes behind a valid MP4 'ftyp' header: no decodable stream at all.
    raw = tmp_path / "raw.mp4"
    raw.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + np.random.default_rng(0).bytes(4000))
    with pytest.raises(SourceError, match="not a video OpenCV can decode"):
        open_source(raw)
    _unchanged(rt, _unchanged(rt, before, odd), raw)


# ---------------------------------------------------------------- NTU and NW-UCLA files

def _ntu(frames: list[int], joints_per_body: int = 25) -> list[str]:
    """An NTU .skeleton text: ``frames[t]`` bodies in frame t, each a plausible body."""
    out = [str(len(frames))]
    for t, n in enumerate(frames):
        out.append(str(n))
        for b in range(n):
            out.append(f"{72057594037930000 + b} 0 1 1 1 1 0 0.1 0.2 2")
            out.append(str(joints_per_body))
            for x, y, z in body(t / 30, b)[:joints_per_body]:
                out.append(f"{x:.4f} {y:.4f} {z:.4f} 250 200 900 500 0.1 0.2 0.3 0.9 2")
    return out


@pytest.fixture
def library(tmp_path):
    """A library with one clip already in it: failed imports must leave it exactly so."""
    lib = Library(tmp_path / "lib")
    lib.add(np.stack([body(i / 30) for i in range(20)]), label="wave")
    yield lib
    assert lib.check() == [] and len(lib) == 1 and lib.get(1).label == "wave"
    lib.close()


def _write(tmp_path: Path, lines: list[str], name: str = "S001C001P001R001A011.skeleton") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _refused(library: Library, path: Path, words: str) -> None:
    with pytest.raises(SkeletonFileError, match=words):
        read_ntu_skeleton(path) if path.suffix == ".skeleton" else read_nwucla(path)
    with pytest.raises(SkeletonFileError, match=words):
        library.import_skeleton_file(path)


def test_ntu_cut_mid_frame(tmp_path, library):
    lines = _ntu([1, 1, 1])
    _refused(library, _write(tmp_path, lines[: 2 + 27 + 2 + 10]), r"line 41: file ends early: 25 joint line\(s\) were due")
    text = "\n".join(lines)
    torn = tmp_path / "S001C001P001R001A011.skeleton"
    torn.write_text(text[: len("\n".join(lines[:40])) + 1 + 17])  # cut inside line 41, a joint line of frame 2
    _refused(library, torn, r"line 41: file ends early: 25 joint line\(s\) were due from line 33, only 9 remain")


def test_ntu_zero_bodies_throughout(tmp_path, library):
    path = _write(tmp_path, _ntu([0, 0, 0, 0]))
    s = read_ntu_skeleton(path)  # a legal file: the reader says exactly what is in it
    assert s.num_frames == 4 and s.body_counts.tolist() == [0, 0, 0, 0] and s.bodies == ()
    assert (s.confidence == 0).all() and (s.joints == 0).all()
    cfg = ModelConfig()
    assert prepare(s.joints, s.confidence, cfg).shape[0] == 0, "no frame with a person reaches a model"
    from ms2l.data.ntu import prepare_cache
    manifest = prepare_cache(tmp_path, tmp_path / "cache", "ntu60", progress=False)
    assert manifest["skipped_no_body"] == [path.stem], "the training cache skips it, by sample name"


def test_library_refuses_an_ntu_file_with_zero_bodies(tmp_path):
    lib = Library(tmp_path / "lib")
    with pytest.raises(LibraryError, match="no person"):
        lib.import_skeleton_file(_write(tmp_path, _ntu([0, 0, 0])))
    assert len(lib) == 0


def test_ntu_more_bodies_than_declared(tmp_path, library):
    lines = _ntu([1, 2, 1])
    lines[2 + 27] = "1"  # frame 2 says one body, two follow
    _refused(library, _write(tmp_path, lines),
             r"line 58: expected the body count of frame 3 \(an integer\), found '72057594037930001")
    last = _ntu([1, 2])
    last[2 + 27] = "1"  # in the last frame the extra body runs past the end
    _refused(library, _write(tmp_path, last), r"line 58: unexpected content after the last of 2 frames")


def test_ntu_non_numeric_fields(tmp_path, library):
    for k, text, words in ((5, "0.1 0.2 abc 250 200 900 500 0.1 0.2 0.3 0.9 2", r"line 6: joint line: 'abc' is not a number"),
                           (2, "72057594037930000 0 1 1 one 1 0 0.1 0.2 2", r"line 3: body line has a non-numeric field"),
                           (0, "three", r"line 1: expected the frame count \(an integer\), found 'three'"),
                           (3, "twenty-five", r"line 4: expected the joint count")):
        lines = _ntu([1, 1])
        lines[k] = text
        _refused(library, _write(tmp_path, lines), words)


@pytest.mark.parametrize("doc,words", [
    ('{"skeletons": [[[0.1, 0.2', r"line 1: invalid JSON"),
    ('["not", "an", "object"]', r"expected an object with a 'skeletons' field"),
    ('{"skeletons": [[[0, 0, 0]]]}', r"'skeletons' has shape \[1, 1, 3\], expected \[T>0, 20, 3\]"),
    ('{"skeletons": [[[0, 0]]]}', r"shape \[1, 1, 2\]"),
    ('{"skeletons": []}', r"shape \[0\]"),
    ('{"skeletons": [[["a", "b", "c"]]]}', r"not a \[T\]\[20\]\[3\] array of numbers"),
    ('{"skeletons": [[[1, 2, 3]], [[1, 2]]]}', r"not a \[T\]\[20\]\[3\] array of numbers"),
    ('{"skeletons": %s, "label": 7}' % json.dumps(np.zeros((2, 20, 3)).tolist()), r"label 7 does not match action a01"),
    (b'{"skeletons": "\xff\xfe"}', r"not a text file \(invalid UTF-8\)"),
])
def test_malformed_nwucla_json(tmp_path, library, doc, words):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_bytes(doc if isinstance(doc, bytes) else doc.encode())
    _refused(library, path, words)


# ---------------------------------------------------------------- the pose stage misbehaves

class NaNPose:
    """A pose stage that emits NaN, infinities and absurd values in every pattern it can."""

    MODES = ("ok", "some_nan", "all_nan", "inf", "nan_conf", "inf_conf", "huge", "nan_pixels", "ok", "ok")

    def __init__(self, mirrored: bool = False):
        self.mirrored = mirrored

    def process(self, frame: Frame) -> PoseResult:
        mode = self.MODES[frame.index % len(self.MODES)]
        pts = body(frame.t).astype(np.float32)
        conf = np.ones(25, np.float32)
        pix = np.stack([320 - pts[:, 0] * 200, 400 - pts[:, 1] * 200], 1).astype(np.float32)
        if mode == "some_nan":
            pts[[3, 7, 11]] = np.nan
        elif mode == "all_nan":
            pts[:] = np.nan
        elif mode == "inf":
            pts[[0, 20]] = [np.inf, -np.inf, np.inf]  # the spine itself
        elif mode == "nan_conf":
            conf[:] = np.nan
        elif mode == "inf_conf":
            conf[:5] = np.inf
        elif mode == "huge":
            pts[5:9] = 3e38
        elif mode == "nan_pixels":
            pix[:] = np.nan
        return PoseResult(frame.index, frame.t, pts, pix, conf, "kinect_v2", self.mirrored)

    def close(self) -> None:
        pass


def test_nan_and_inf_from_the_pose_stage_never_reach_a_prediction(recognizer):
    rt = make(recognizer, pose=NaNPose)
    snaps = list(rt.run(FakeSource(n=240, fps=30.0)))
    assert len(snaps) == 240 and rt.poll_errors() == []
    preds = [s.prediction for s in snaps if s.prediction is not None]
    assert len(preds) > 100
    for p in preds:
        assert np.isfinite(p.probs).all() and p.probs.sum() == pytest.approx(1.0, abs=1e-5)
    for s in snaps:
        assert s.state.state in ("action", "unknown", "no_person", "warming_up")
        assert np.isfinite(s.state.probs).all()
        if s.skeleton is not None:
            assert np.isfinite(s.skeleton.joints).all() and ((s.skeleton.confidence >= 0) & (s.skeleton.confidence <= 1)).all()
    modes = [NaNPose.MODES[s.frame.index % len(NaNPose.MODES)] for s in snaps]
    # A frame whose every joint is NaN (or whose confidences are all NaN) shows nobody ...
    assert all(s.skeleton is None for s, m in zip(snaps, modes) if m in ("all_nan", "nan_conf"))
    # ... and the NaN joints of the others are simply missing.
    some = next(s for s, m in zip(snaps, modes) if m == "some_nan")
    assert (some.skeleton.confidence[[3, 7, 11]] == 0).all() and (some.skeleton.joints[[3, 7, 11]] == 0).all()


def test_nan_prediction_cannot_poison_the_smoother():
    from app.live.smoother import Smoother
    from app.types import Prediction

    sm = Smoother(LABELS, threshold=0.5, smoothing=0.5)
    sm.update(0.0, Prediction(0.0, np.array([0.9, 0.05, 0.05], np.float32), LABELS))
    state, _ = sm.update(0.1, Prediction(0.1, np.array([np.nan, 0.5, 0.5], np.float32), LABELS))
    assert state.state == "action" and state.action == "wave" and np.isfinite(state.probs).all()
    state, _ = sm.update(0.2, Prediction(0.2, np.array([0.9, 0.05, 0.05], np.float32), LABELS))
    assert state.action == "wave" and state.probs[0] == pytest.approx(0.9)


# ---------------------------------------------------------------- people and cameras

def test_person_entering_and_leaving_repeatedly(recognizer):
    """In and out every 2 s, flickering every other frame in between; window 1 s, reset after 0.5 s."""
    def person(i: int) -> bool:
        if 300 <= i < 360:
            return i % 2 == 0  # a flickering detection: gaps of one frame are bridged
        return (i // 60) % 2 == 0

    rt = make(recognizer, reset_after_s=0.5, threshold=0.0)
    snaps = list(rt.run(FakeSource(n=600, fps=30.0, person=person)))
    assert rt.poll_errors() == []
    for s in snaps:
        seen = person(s.frame.index)
        assert (s.skeleton is not None) == seen
        if not seen:
            assert s.state.state == "no_person" and s.prediction is None and s.state.action is None
        elif s.prediction is not None:
            # Never a window reaching back over an absence longer than reset_after_s.
            assert np.isfinite(s.prediction.probs).all()
    entries = [i for i in range(15, 600) if person(i) and not any(person(i - k) for k in range(1, 16))]
    assert entries == [120, 240, 480]  # (at 360 the flicker ends: a one-frame gap, bridged)
    for i in entries:  # each time they come back after 2 s the window refills from empty
        assert snaps[i].state.state == "warming_up" and snaps[i].prediction is None
        assert snaps[i + 30].prediction is not None
    events = [e for s in snaps for e in s.new_events]
    starts, ends = [e for e in events if e.kind == "start"], [e for e in events if e.kind == "end"]
    assert len(starts) >= 4 and len(starts) - len(ends) in (0, 1)
    assert all(a.kind != b.kind for a, b in zip(events, events[1:])), "starts and ends alternate"


class FlakyCamera(FakeSource):
    """A live camera that stops delivering after ``fail_after`` frames until it is reopened."""

    def __init__(self, **kw):
        super().__init__(live=True, name="camera:0", delay=0.002, **kw)
        self.reopened = 0

    def reopen(self) -> None:
        self.reopened += 1
        self.i, self.closed, self.fail_after = 0, False, None


def test_camera_that_stops_mid_stream_is_reported_and_reconnects_when_asked(recognizer):
    cam = FlakyCamera(n=100, fail_after=40)
    rt = make(recognizer)
    rt.open(cam)
    assert rt.wait(10)
    errors = rt.poll_errors()
    assert len(errors) == 1 and isinstance(errors[0], SourceError) and "stopped delivering" in str(errors[0])
    st = rt.snapshot().stats
    assert not st.running and st.frames == 40 and st.processed >= 1 and rt.snapshot().prediction is not None
    rt.reconnect()  # the user plugged it back in and pressed Reconnect
    assert cam.reopened == 1
    assert rt.wait(10) and rt.poll_errors() == []
    st = rt.snapshot().stats
    assert st.frames == 100 and st.finished and rt.snapshot().prediction is not None
    rt.close()


class _Capture:
    """cv2.VideoCapture for a camera that delivers ``budget`` frames per opening, then fails reads."""

    budget = 20

    def __init__(self, index):
        self.left = _Capture.budget

    def isOpened(self):
        return True

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        time.sleep(0.002)
        img = np.full((48, 64, 3), 200, np.uint8)
        return True, img

    def release(self):
        pass


def test_real_video_source_camera_loss_and_reconnect(monkeypatch, recognizer):
    monkeypatch.setattr(cv2, "VideoCapture", _Capture)
    monkeypatch.setattr(sources, "STALL_TIMEOUT_S", 0.3)
    rt = make(recognizer)
    rt.open(open_source("camera:0"))
    assert rt.wait(10)
    errors = rt.poll_errors()
    assert len(errors) == 1 and "camera:0 stopped delivering frames" in str(errors[0])
    assert rt.snapshot().stats.frames == 20
    rt.reconnect()
    assert rt.wait(10) and rt.snapshot().stats.frames == 20
    assert "stopped delivering" in str(rt.poll_errors()[0])  # and reported again when it drops again
    rt.close()
    with pytest.raises(SourceError, match="nothing to reconnect"):
        make(recognizer).reconnect()
