"""MediaPipe Pose on real images and video, through the adapter into the convention.

Videos are cut short (at most 60 frames, NTU frames downscaled) for a 2-core CI.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from app.live.pose import MediaPipePose, PoseEstimatorError, pose_to_skeleton
from app.types import Frame, PoseResult
from pose_adapters import JOINT_INDEX, mirror, normalize
from pose_adapters.anatomy import LIMBS, handedness, left_right_consistent, limb_directions
from pose_adapters.readers import read_ntu_skeleton

J = JOINT_INDEX
NTU_FRAMES = 30
NTU_SIZE = (640, 360)


def _frames(path, n: int, size=None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, image = cap.read()
        if not ok:
            break
        out.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size else image)
    cap.release()
    assert len(out) == n, f"{path} gave {len(out)} frames"
    return out


def _run(frames: list[np.ndarray], mirrored: bool, fps: float) -> list[tuple[PoseResult, object]]:
    with MediaPipePose(mirrored=mirrored) as estimator:
        results = [estimator.process(Frame(f, i / fps, i, "test")) for i, f in enumerate(frames)]
    return [(r, pose_to_skeleton(r)) for r in results]


@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    image = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    (result, skeleton), = _run([image], mirrored=False, fps=1.0)
    return image, result, skeleton


@pytest.fixture(scope="module")
def calisthenics(videos_dir):
    return _run(_frames(videos_dir / "calisthenics-3people.avi", 60), mirrored=False, fps=10.0)


@pytest.fixture(scope="module")
def ntu_views(videos_dir):
    """The NTU clip (mirrored, per ../shared/README.md) as recorded and flipped back with cv2.flip."""
    raw = _frames(videos_dir / "ntu-two-person.avi", NTU_FRAMES, NTU_SIZE)
    as_recorded = _run(raw, mirrored=True, fps=30.0)
    flipped = _run([cv2.flip(f, 1) for f in raw], mirrored=False, fps=30.0)
    return as_recorded, flipped


def _stack(run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found = np.array([s is not None for _, s in run])
    joints = np.stack([s.joints for _, s in run if s is not None])
    conf = np.stack([s.confidence for _, s in run if s is not None])
    return found, joints, conf


def test_pose_result_and_skeleton_shapes(astronaut):
    image, r, s = astronaut
    assert r.person and r.layout == "mediapipe_world" and r.mirrored is False
    assert r.points.shape == (33, 3) and r.image_points.shape == (33, 2) and r.confidence.shape == (33,)
    assert r.points.dtype == np.float32 and ((r.confidence >= 0) & (r.confidence <= 1)).all()
    # World landmarks are metres around the hips; image points are pixels inside the photo.
    assert np.abs(r.points).max() < 1.5
    h, w = image.shape[:2]
    visible = r.confidence > 0.5
    assert ((r.image_points[visible] >= 0) & (r.image_points[visible] <= [w, h])).all()
    assert s.joints.shape == (25, 3) and s.confidence.shape == (25,) and s.image_points.shape == (25, 2)
    assert s.joints.dtype == np.float32


def test_astronaut_photo_is_an_upright_person_facing_the_camera(astronaut):
    _, r, s = astronaut
    j, c, px = s.joints, s.confidence, s.image_points
    assert c[J["head"]] > 0.2 and c[J["left_shoulder"]] > 0.9 and c[J["right_shoulder"]] > 0.9
    assert j[J["head"], 1] > j[J["spine_shoulder"], 1] > j[J["spine_base"], 1], "y is up"
    assert left_right_consistent(j)
    # Facing the camera in an unmirrored photo: her left shoulder is at the camera's right,
    # i.e. smaller x in the convention and larger u in the image.
    assert j[J["left_shoulder"], 0] < j[J["right_shoulder"], 0]
    assert px[J["left_shoulder"], 0] > px[J["right_shoulder"], 0]
    # The head (ear midpoint) is drawn where MediaPipe put the ears.
    ears = r.image_points[[7, 8]].mean(axis=0)
    assert np.allclose(px[J["head"]], ears, atol=1e-3)


def test_calisthenics_video_anatomy_and_person_share(calisthenics, record_property, capsys):
    found, j, c = _stack(calisthenics)
    share = found.mean()
    record_property("person_share_calisthenics_60", float(share))
    with capsys.disabled():
        print(f"\ncalisthenics-3people.avi: a person in {found.sum()}/{len(found)} frames ({share:.0%})")
    assert share >= 0.75
    assert (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).all()
    feet = j[:, [J["left_foot"], J["right_foot"]], 1]
    assert (feet < j[:, [J["spine_base"]], 1]).all()
    assert left_right_consistent(j).mean() > 0.95
    assert (handedness(j) > 0).mean() > 0.9, "the adapter keeps MediaPipe's people proper (no mirror)"
    assert (c[:, J["spine_base"]] <= 0.5).all() and (c[:, J["left_shoulder"]] > 0.5).mean() > 0.9
    torso = np.linalg.norm(j[:, J["spine_shoulder"]] - j[:, J["spine_base"]], axis=-1)
    assert 0.3 < np.median(torso) < 0.7, "metres"


def test_mirrored_and_unmirrored_views_give_the_same_skeleton(ntu_views):
    """Flip real frames with cv2.flip: with the mirrored flag set right, both views agree,
    the left wrist matching the left wrist and not the right one."""
    as_recorded, flipped = ntu_views
    pairs = [(ra, a, b) for (ra, a), (_, b) in zip(as_recorded, flipped) if a is not None and b is not None]
    assert len(pairs) >= 0.9 * NTU_FRAMES
    same, cross, whole = [], [], []
    px_same, px_cross, px_unflagged = [], [], []
    w = NTU_SIZE[0] - 1
    lw, rw = J["left_wrist"], J["right_wrist"]
    for ra, a, b in pairs:
        for side, other in (("left", "right"), ("right", "left")):
            for joint in ("wrist", "elbow", "ankle", "knee"):
                same.append(np.linalg.norm(a.joints[J[f"{side}_{joint}"]] - b.joints[J[f"{side}_{joint}"]]))
                cross.append(np.linalg.norm(a.joints[J[f"{side}_{joint}"]] - b.joints[J[f"{other}_{joint}"]]))
        ok = (a.confidence > 0.5) & (b.confidence > 0.5)
        whole.append(np.linalg.norm(a.joints[ok] - b.joints[ok], axis=-1).mean())
        # Pixels identify the physical hand: the left wrist of one view is at the mirrored
        # pixel of the other view's left wrist, not of its right wrist.
        px_same.append(abs(a.image_points[lw, 0] - (w - b.image_points[lw, 0])))
        px_cross.append(abs(a.image_points[lw, 0] - (w - b.image_points[rw, 0])))
        # Unflagged, the recorded (mirrored) view calls the subject's right wrist "left".
        wrong = pose_to_skeleton(dataclasses.replace(ra, mirrored=False))
        px_unflagged.append(abs(wrong.image_points[lw, 0] - (w - b.image_points[rw, 0])))
    same, cross = np.array(same), np.array(cross)
    assert np.median(whole) < 0.08, np.median(whole)
    assert (same < cross).mean() > 0.9 and np.median(same) < 0.08 < np.median(cross)
    assert np.median(px_same) < 6 and np.median(px_cross) > 20 > 6 > np.median(px_unflagged)
    # And in 3D the unflagged recorded view is exactly the mirror twin of the flagged one.
    ra, a, _ = pairs[0]
    twin = pose_to_skeleton(dataclasses.replace(ra, mirrored=False))
    assert np.allclose(mirror(a.joints)[0], twin.joints)


def test_mediapipe_and_kinect_point_limbs_the_same_way(ntu_views, ntu_dir):
    """Cross-source agreement on the data we have: the NTU video's people start in a relaxed
    standing pose, as do the two people of the NTU handshake skeleton (Kinect v2).  After the
    shared normalisation their limbs and feet point the same way."""
    _, flipped = ntu_views
    found, mp_joints, mp_conf = _stack(flipped[:8])
    assert found.all()
    mp_norm, _ = normalize(mp_joints, mp_conf)
    kinect = read_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    mp_dirs = limb_directions(mp_norm).mean(axis=0)
    for m in range(2):
        k_norm, _ = normalize(kinect.joints[m, :8], kinect.confidence[m, :8])
        cos = (mp_dirs * limb_directions(k_norm).mean(axis=0)).sum(-1) / np.linalg.norm(mp_dirs, axis=-1)
        assert cos.mean() > 0.85 and cos.min() > 0.5, dict(zip([f"{a}->{b}" for a, b in LIMBS], cos.round(2)))
        assert (handedness(k_norm) > 0).all()
    assert (handedness(mp_norm) > 0).all(), "feet point forward in both sources"


def test_empty_frame_has_no_person_and_no_skeleton():
    with MediaPipePose() as estimator:
        r = estimator.process(Frame(np.zeros((240, 320, 3), np.uint8), 0.0, 0))
    assert not r.person and r.points is None and r.image_points is None and r.confidence is None
    assert pose_to_skeleton(r) is None


def test_estimator_lifecycle_and_bad_inputs(tmp_path):
    estimator = MediaPipePose(mirrored=True)
    assert estimator.mirrored
    with pytest.raises(ValueError, match="uint8"):
        estimator.process(Frame(np.zeros((10, 10, 3), np.float32), 0.0, 0))
    estimator.close()
    estimator.close()  # idempotent
    with pytest.raises(PoseEstimatorError, match="closed"):
        estimator.process(Frame(np.zeros((10, 10, 3), np.uint8), 0.0, 0))
    with pytest.raises(PoseEstimatorError, match="does not exist"):
        MediaPipePose(model_path=tmp_path / "missing.task")
