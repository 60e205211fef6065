"""The multi-person pose stage: the locally built PoseLandmarker bundle, duplicates, real images and video.

The video test reads the first 60 frames of calisthenics-3people.avi (384x288, three small
people side by side) with two strips (``tiles=2``): the whole-frame detector, which sees the
frame at 224x224, finds the third person in only a few frames there.
"""
from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

from app.errors import PoseEstimatorError
from app.live.multipose import (DETECTOR_NAME, LANDMARKER_NAME, MultiPose, _Candidate, box_cover, box_iou,
                                build_pose_bundle, landmark_box, strip_tiles, suppress_duplicates)
from app.live.pose import MediaPipePose, pose_to_skeleton
from app.live.tracker import Tracker
from app.types import Frame, PoseResult

N_FRAMES = 60


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> "Path":  # noqa: F821
    return build_pose_bundle(tmp_path_factory.mktemp("pose-cache"))


def test_bundle_is_built_once_and_holds_both_models(bundle, monkeypatch, tmp_path):
    from mediapipe.tasks.python.metadata import metadata

    assert bundle.suffix == ".task" and bundle.name.startswith("pose_landmarker_full-")
    with zipfile.ZipFile(bundle) as z:
        assert {DETECTOR_NAME, LANDMARKER_NAME} <= set(z.namelist())
        for name in (DETECTOR_NAME, LANDMARKER_NAME):
            text = metadata.MetadataDisplayer.with_model_buffer(z.read(name)).get_metadata_json()
            assert "NormalizationOptions" in text, name
    stamp = bundle.stat().st_mtime_ns
    assert build_pose_bundle(bundle.parent) == bundle and bundle.stat().st_mtime_ns == stamp, "reused, not rebuilt"
    # The default folder follows MS2L_CACHE.
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path))
    built = build_pose_bundle()
    assert built.parent == tmp_path / "pose" and built.name == bundle.name
    assert [p.name for p in (tmp_path / "pose").iterdir()] == [bundle.name], "no temporary file left behind"


def test_a_broken_cached_bundle_is_rebuilt(bundle, tmp_path):
    target = tmp_path / bundle.name
    target.write_bytes(b"not a zip")
    assert build_pose_bundle(tmp_path) == target and zipfile.is_zipfile(target)


def test_bundle_that_cannot_be_written_is_a_pose_estimator_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MS2L_CACHE", str(blocker))
    with pytest.raises(PoseEstimatorError, match="cannot write the multi-person pose model"):
        build_pose_bundle()
    with pytest.raises(PoseEstimatorError, match="does not exist"):
        MultiPose(model_path=tmp_path / "missing.task")
    with pytest.raises(PoseEstimatorError, match="num_poses"):
        MultiPose(num_poses=0, model_path=tmp_path / "missing.task")


def _candidate(box, score: float, cut: bool = False, shift=(0.0, 0.0)) -> _Candidate:
    x0, y0, x1, y1 = box
    pts = np.stack(np.meshgrid(np.linspace(x0, x1, 11), np.linspace(y0, y1, 3)), -1).reshape(-1, 2)[:33]
    pts = (pts + np.asarray(shift)).astype(np.float32)
    conf = np.ones(33, np.float32)
    r = PoseResult(0, 0.0, np.zeros((33, 3), np.float32), pts, conf)
    return _Candidate(r, landmark_box(pts, conf), score, cut)


def test_duplicate_suppression():
    a = _candidate((100, 100, 140, 200), 0.9)
    near = _candidate((102, 101, 142, 201), 0.5)        # the same person again (IoU > 0.6)
    upper_half = _candidate((101, 100, 139, 150), 0.95)  # a partial fit inside a (cover > 0.8)
    other = _candidate((200, 100, 240, 200), 0.4)       # someone else
    kept = suppress_duplicates([near, a, other], iou=0.6, distance=0.15, cover=0.8)
    assert kept == [a, other]
    # Inside the other box but not a duplicate by IoU: the cover rule catches it (the whole fit, being
    # the less confident here, loses; that is why cut fits rank last when strips are used).
    assert suppress_duplicates([a, upper_half], cover=0.8) == [upper_half]
    assert suppress_duplicates([a, upper_half], cover=1.01) == [upper_half, a]
    assert suppress_duplicates([_candidate((101, 100, 139, 150), 0.95, cut=True), a], cover=0.8) == [a]
    assert box_iou(a.box, other.box) == 0 and box_cover(a.box, upper_half.box) > 0.95


def test_a_fit_straddling_two_people_is_dropped_when_it_shares_their_landmarks():
    """One person's head on a neighbour's legs: the boxes overlap little, but the legs coincide."""
    conf = np.ones(33, np.float32)
    arms = np.stack(np.meshgrid(np.linspace(80, 160, 11), [100, 150]), -1).reshape(-1, 2)  # 22 upper landmarks
    legs = np.stack([np.linspace(100, 140, 11), np.full(11, 200)], -1)                     # 11 on the legs
    pts = np.concatenate([arms, legs]).astype(np.float32)
    whole = _Candidate(PoseResult(0, 0.0, np.zeros((33, 3), np.float32), pts, conf), landmark_box(pts, conf), 0.95)
    straddle_pts = pts.copy()
    straddle_pts[:22] += [60, 0]  # head and arms on the neighbour, legs on this person
    r = PoseResult(0, 0.0, np.zeros((33, 3), np.float32), straddle_pts, conf)
    straddle = _Candidate(r, landmark_box(straddle_pts, conf), 0.8)
    assert box_iou(whole.box, straddle.box) < 0.6 and box_cover(whole.box, straddle.box) < 0.8
    assert suppress_duplicates([whole, straddle], shared=1.01, cover=0.8) == [whole, straddle]
    assert suppress_duplicates([whole, straddle], shared=0.15, cover=0.8) == [whole]


def test_strip_tiles_cover_the_frame_with_overlap():
    assert strip_tiles(384, 288, 1) == [(0, 0, 384, 288)]
    left, right = strip_tiles(384, 288, 2, overlap=0.2)
    assert left[0] == 0 and right[2] == 384 and left[2] - right[0] == pytest.approx(0.2 * 384, abs=1)
    assert all(t[1] == 0 and t[3] == 288 for t in (left, right))
    tall = strip_tiles(288, 384, 3)
    assert tall[0][1] == 0 and tall[-1][3] == 384 and all(t[0] == 0 and t[2] == 288 for t in tall)


@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def test_astronaut_is_one_person_in_the_single_person_format(astronaut, bundle):
    with MultiPose(num_poses=3, model_path=bundle) as estimator:
        results = estimator.process(Frame(astronaut, 0.0, 0, "test"))
    assert len(results) == 1
    r = results[0]
    assert r.layout == "mediapipe_world" and r.mirrored is False and r.frame_index == 0
    assert r.points.shape == (33, 3) and r.image_points.shape == (33, 2) and r.confidence.shape == (33,)
    assert r.points.dtype == r.image_points.dtype == r.confidence.dtype == np.float32
    assert np.abs(r.points).max() < 1.5, "metres around the hips"
    skeleton = pose_to_skeleton(r)
    assert skeleton.joints.shape == (25, 3) and skeleton.image_points.shape == (25, 2)
    # The same two models as the single-person path: the landmarks it sees agree within a few pixels.
    with MediaPipePose() as single:
        ref = single.process(Frame(astronaut, 0.0, 0, "test"))
    seen = ref.confidence > 0.5
    assert seen.sum() >= 10
    assert np.median(np.linalg.norm(r.image_points[seen] - ref.image_points[seen], axis=-1)) < 8
    assert np.median(np.linalg.norm(r.points[seen] - ref.points[seen], axis=-1)) < 0.03


def test_timestamps_increase_even_when_frame_times_repeat(astronaut, bundle):
    with MultiPose(num_poses=1, model_path=bundle) as estimator:
        for i in range(3):
            assert len(estimator.process(Frame(astronaut, 0.0, i, "test"))) == 1
    with pytest.raises(PoseEstimatorError, match="closed"):
        estimator.process(Frame(astronaut, 1.0, 3, "test"))


@pytest.fixture(scope="module")
def calisthenics(videos_dir, bundle):
    cap = cv2.VideoCapture(str(videos_dir / "calisthenics-3people.avi"))
    frames = []
    while len(frames) < N_FRAMES:
        ok, image = cap.read()
        assert ok, "the video ended early"
        frames.append(image)
    cap.release()
    tracker = Tracker(max_persons=3)
    per_frame, tracks, raw = [], [], []
    with MultiPose(num_poses=3, tiles=2, model_path=bundle) as estimator:
        for i, image in enumerate(frames):
            results = estimator.process(Frame(image, i / 10.0, i, "calisthenics"))
            raw.append(estimator.last_detected)
            per_frame.append(results)
            tracks.append(tracker.update(i / 10.0, [s for s in map(pose_to_skeleton, results) if s is not None]))
    return frames[0].shape, per_frame, tracks, raw


def test_calisthenics_three_people_and_no_duplicates(calisthenics, record_property, capsys):
    (h, w, _), per_frame, tracks, raw = calisthenics
    counts = np.array([len(r) for r in per_frame])
    share = float((counts == 3).mean())
    record_property("three_people_share_60", share)
    with capsys.disabled():
        print(f"\ncalisthenics-3people.avi, {N_FRAMES} frames, 2 strips: 3 people in {share:.0%} of frames, "
              f"{int(sum(raw) - counts.sum())} duplicate fits suppressed")
    assert share >= 0.8
    assert counts.max() <= 3
    # The three stand side by side about a quarter of the width apart: no two results of one frame
    # may sit on one person (boxes overlapping, or heads closer than a tenth of the width).  (A fit
    # that puts one person's head on a neighbour's legs does happen, rarely; its box overlaps less.)
    for results in per_frame:
        boxes = [landmark_box(r.image_points, r.confidence) for r in results]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert box_iou(boxes[i], boxes[j]) < 0.3
                assert np.linalg.norm(results[i].image_points[0] - results[j].image_points[0]) > 0.1 * w
    # Every result goes through the single-person adapter into the convention.
    skeletons = [pose_to_skeleton(r) for results in per_frame for r in results]
    assert all(s is not None and s.joints.shape == (25, 3) for s in skeletons)
    # Tracked: three ids cover the clip once everyone is found.
    late_ids = {tr.id for frame in tracks[N_FRAMES // 2:] for tr in frame}
    assert len(late_ids) == 3
