"""The person tracker on synthetic skeletons: ids, coasting, ending, duplicates, pair and selection."""
from __future__ import annotations

import numpy as np
import pytest

from app.live.tracker import Track, Tracker, closest_pair, largest, skeleton_box
from app.types import Skeleton

FPS = 10.0


def person(cx: float, cy: float, height: float = 100.0, seed: int = 0, conf: float = 0.9, t: float = 0.0,
           index: int = 0) -> Skeleton:
    """A stick figure: 25 image points spread over a ``height`` x 0.4 ``height`` box centred at (cx, cy)."""
    rng = np.random.default_rng(seed)
    shape = rng.uniform(-0.5, 0.5, (25, 2)) * [0.4 * height, height]
    shape[0], shape[1] = [-0.2 * height, -0.5 * height], [0.2 * height, 0.5 * height]  # fix the box extent
    pts = (shape + [cx, cy]).astype(np.float32)
    joints = np.zeros((25, 3), np.float32)  # world joints centred on the hips, as MediaPipe gives them
    return Skeleton(t, index, joints, np.full(25, conf, np.float32), pts)


def run(tracker: Tracker, frames: list[list[tuple]]) -> list[list[Track]]:
    """Feed frames of ``(cx, cy, seed[, height])`` people at FPS; returns the tracks after each frame."""
    out = []
    for i, people in enumerate(frames):
        t = i / FPS
        out.append(tracker.update(t, [person(p[0], p[1], *(p[3:] or ()), seed=p[2], t=t, index=i) for p in people]))
    return out


def ids_at(tracks: list[Track]) -> dict[int, np.ndarray]:
    return {tr.id: tr.center for tr in tracks}


def test_two_people_keep_their_ids():
    res = run(Tracker(), [[(100, 150, 0), (300, 150, 1)]] * 10)
    assert [sorted(ids_at(r)) for r in res] == [[0, 1]] * 10
    last = {tr.id: tr for tr in res[-1]}
    assert last[0].center[0] < 200 < last[1].center[0]
    assert last[0].age == 9 and last[0].hits == 10 and last[0].missed == 0


def test_ids_stable_through_crossing_paths():
    """Two people walk past each other (one nearer the camera, so lower in the image); ids follow them."""
    frames = [[(50 + 10 * i, 150, 0), (350 - 10 * i, 185, 1)] for i in range(31)]
    res = run(Tracker(), frames)
    assert all(len(r) == 2 for r in res)
    a = [ids_at(r)[0] for r in res]
    b = [ids_at(r)[1] for r in res]
    np.testing.assert_allclose([c[0] for c in a], [50 + 10 * i for i in range(31)], atol=1)
    np.testing.assert_allclose([c[0] for c in b], [350 - 10 * i for i in range(31)], atol=1)


def test_crossing_with_the_same_pose_relies_on_motion():
    """Same figure for both, crossing close by: only the predicted motion can tell them apart."""
    frames = [[(50 + 12 * i, 150, 0), (350 - 12 * i, 160, 0)] for i in range(26)]
    res = run(Tracker(duplicate_iou=0.9, duplicate_distance=0.05), frames)
    assert all(len(r) == 2 for r in res)
    assert ids_at(res[-1])[0][0] > 300 and ids_at(res[-1])[1][0] < 100


def test_coasts_through_a_two_frame_miss():
    frames = [[(100, 150, 0)]] * 5 + [[]] * 2 + [[(104, 150, 0)]] * 3
    res = run(Tracker(coast_s=0.3, reset_after_s=1.0), frames)
    assert [len(r) for r in res] == [1] * 10
    assert {tr.id for r in res for tr in r} == {0}
    assert [r[0].missed for r in res] == [0] * 5 + [1, 2] + [0] * 3
    # While coasting the track keeps its last skeleton.
    assert res[6][0].skeleton.frame_index == 4


def test_remembered_after_coasting_then_ends_after_reset_after_s():
    tracker = Tracker(coast_s=0.3, reset_after_s=1.0)
    run(tracker, [[(100, 150, 0)]])  # t = 0
    for i in range(1, 11):  # t = 0.1 .. 1.0: unmatched, not yet older than reset_after_s
        reported = tracker.update(i / FPS, [])
        assert (len(reported) == 1) == (i / FPS <= 0.3 + 1e-9)
        assert [tr.id for tr in tracker.tracks] == [0] and tracker.ended == ()
    tracker.update(1.1, [])
    assert tracker.tracks == [] and tracker.ended == (0,)
    # The same person coming back later is someone new: a new id.
    back = tracker.update(1.2, [person(100, 150, t=1.2)])
    assert [tr.id for tr in back] == [1] and tracker.ended == ()


def test_back_within_reset_after_s_keeps_the_id():
    tracker = Tracker(coast_s=0.3, reset_after_s=1.0)
    tracker.update(0.0, [person(100, 150)])
    assert tracker.update(0.5, []) == []
    back = tracker.update(0.8, [person(108, 152, t=0.8)])
    assert [(tr.id, tr.missed) for tr in back] == [(0, 0)]


def test_ids_are_never_reused():
    tracker = Tracker(coast_s=0.1, reset_after_s=0.2)
    seen: list[int] = []
    t = 0.0
    for life in range(5):
        for _ in range(3):  # a person for three frames ...
            t += 0.1
            for tr in tracker.update(t, [person(100 + 50 * (life % 2), 150, seed=life, t=t)]):
                if tr.id not in seen:
                    seen.append(tr.id)
        for _ in range(4):  # ... then nobody long enough for the track to end
            t += 0.1
            tracker.update(t, [])
    assert seen == sorted(seen) == list(range(5))


def test_duplicates_do_not_start_a_second_track():
    """Each frame the same person twice (a second fit shifted by 3 px, less confident)."""
    tracker = Tracker()
    for i in range(10):
        t = i / FPS
        main, dup = person(100, 150, t=t, conf=0.9), person(103, 151, t=t, conf=0.6, seed=5)
        reported = tracker.update(t, [dup, main] if i % 2 else [main, dup])
        assert [tr.id for tr in reported] == [0]
    assert tracker.tracks[0].skeleton.confidence.mean() == pytest.approx(0.9)


def test_a_late_second_fit_of_a_tracked_person_is_not_new():
    """A second fit that overlaps strongly (IoU > 0.6) with a matched track starts nothing."""
    tracker = Tracker()
    tracker.update(0.0, [person(100, 150)])
    reported = tracker.update(0.1, [person(100, 150, t=0.1), person(104, 150, 95, seed=3, conf=0.5, t=0.1)])
    assert [tr.id for tr in reported] == [0]


def test_max_persons():
    frames = [[(60, 150, 0), (160, 150, 1), (260, 150, 2), (360, 150, 3)]] * 3
    res = run(Tracker(max_persons=3), frames)
    assert all(len(r) == 3 for r in res) and {tr.id for r in res for tr in r} == {0, 1, 2}


def test_a_remembered_track_makes_room_for_a_new_person():
    tracker = Tracker(max_persons=1, coast_s=0.1, reset_after_s=1.0)
    tracker.update(0.0, [person(100, 150)])
    tracker.update(0.1, [])
    tracker.update(0.2, [])
    reported = tracker.update(0.3, [person(300, 150, seed=1, t=0.3)])
    assert [tr.id for tr in reported] == [1] and tracker.ended == (0,)


def test_far_jump_is_a_new_person():
    tracker = Tracker()
    tracker.update(0.0, [person(50, 150)])
    reported = tracker.update(0.1, [person(350, 150, seed=1, t=0.1)])
    assert [(tr.id, tr.missed) for tr in reported] == [(0, 1), (1, 0)]


def test_box_from_image_points_and_from_joints_without_them():
    s = person(100, 150, 100)
    np.testing.assert_allclose(skeleton_box(s), [80, 100, 120, 200], atol=1e-4)
    joints = np.zeros((25, 3), np.float32)
    joints[:, 0] = np.linspace(-0.2, 0.2, 25)
    joints[:, 1] = np.linspace(0.0, 1.7, 25)
    conf = np.ones(25, np.float32)
    conf[3] = 0
    file_skeleton = Skeleton(0.0, 0, joints, conf, None)
    np.testing.assert_allclose(skeleton_box(file_skeleton), [-0.2, 0.0, 0.2, 1.7], atol=1e-6)
    # Such skeletons are tracked too (positions in metres).
    tracker = Tracker()
    moved = Skeleton(0.1, 1, joints + [0.02, 0, 0], conf, None)
    assert [tr.id for tr in tracker.update(0.0, [file_skeleton])] == [0]
    assert [tr.id for tr in tracker.update(0.1, [moved])] == [0]


def test_closest_pair_and_largest():
    tracker = Tracker()
    tracks = tracker.update(0.0, [person(60, 150, 100, seed=0), person(300, 150, 100, seed=1),
                                  person(370, 150, 100, seed=2)])
    a, b = closest_pair(tracks)
    assert (a.id, b.id) == (1, 2)
    assert closest_pair(tracks[:1]) is None and closest_pair([]) is None
    assert largest([]) is None
    tracker2 = Tracker()
    sized = tracker2.update(0.0, [person(60, 150, 80, seed=0), person(200, 150, 160, seed=1),
                                  person(350, 150, 120, seed=2)])
    assert largest(sized).id == 1


def test_closest_pair_is_scale_aware():
    """Two small people 60 px apart (far away) are not closer than two big ones 90 px apart."""
    tracks = Tracker(max_persons=4).update(0.0, [person(40, 100, 40, seed=0), person(100, 100, 40, seed=1),
                                    person(250, 200, 200, seed=2), person(340, 200, 200, seed=3)])
    a, b = closest_pair(tracks)
    assert (a.id, b.id) == (2, 3)


def test_time_must_not_go_back_and_options_are_checked():
    tracker = Tracker()
    tracker.update(1.0, [])
    with pytest.raises(ValueError, match="go back"):
        tracker.update(0.5, [])
    with pytest.raises(ValueError):
        Tracker(coast_s=2.0, reset_after_s=1.0)
    with pytest.raises(ValueError):
        Tracker(max_persons=0)
