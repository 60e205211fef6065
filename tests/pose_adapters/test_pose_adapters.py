"""Adapters onto the NTU-25 convention: tables, axes, mirroring, 2D lifts -- on real data where it matters."""
from __future__ import annotations

import numpy as np
import pytest

from pose_adapters import (
    JOINT_INDEX, MIRROR_PERMUTATION, SYNTHESISED, AdapterError, LayoutAdapter, get_adapter, list_adapters, mirror,
    normalize,
)
from pose_adapters.anatomy import handedness, left_right_consistent, limb_directions
from pose_adapters.bvh import BVH_CANONICAL, match_bvh_names, normalise_joint_name
from pose_adapters.image import NOMINAL_DEPTH, TORSO_M
from pose_adapters.keypoints2d import COCO17_KEYPOINTS, OPENPOSE_BODY25_KEYPOINTS
from pose_adapters.mediapipe import MEDIAPIPE_LANDMARKS, MEDIAPIPE_MIRROR
from pose_adapters.readers import read_ntu_skeleton

J = JOINT_INDEX
ALL = {"kinect_v2", "kinect_v1", "mediapipe_world", "mediapipe_image", "coco17", "openpose_body25", "bvh"}
A058 = "S001C003P008R002A058.skeleton"


@pytest.fixture(scope="module")
def handshake(ntu_dir):
    return read_ntu_skeleton(ntu_dir / A058)


def mediapipe_from_kinect(joints: np.ndarray) -> np.ndarray:
    """Fake MediaPipe world landmarks ``[T, 33, 3]`` (MediaPipe axes) from NTU joints ``[T, 25, 3]``.

    Landmarks that exist in both layouts are copied; face, hand and foot
    landmarks are placed near their NTU neighbours.
    """
    src = {
        "left_index": "left_hand", "right_index": "right_hand", "left_pinky": "left_hand", "right_pinky": "right_hand",
        "left_thumb": "left_thumb", "right_thumb": "right_thumb", "left_heel": "left_ankle", "right_heel": "right_ankle",
        "left_foot_index": "left_foot", "right_foot_index": "right_foot",
    }
    out = np.zeros((joints.shape[0], 33, 3), np.float32)
    for k, name in enumerate(MEDIAPIPE_LANDMARKS):
        ntu = src.get(name, name if name in J else "head")
        out[:, k] = joints[:, J[ntu]]
    out[:, MEDIAPIPE_LANDMARKS.index("left_ear"), 0] -= 0.07   # the subject's left is the camera's right (-x)
    out[:, MEDIAPIPE_LANDMARKS.index("right_ear"), 0] += 0.07
    return out * np.array([-1.0, -1.0, 1.0], np.float32)       # convention -> MediaPipe axes


def test_registry_lists_every_adapter_and_rejects_unknown_names():
    assert ALL <= set(list_adapters())
    assert get_adapter("mediapipe").name == "mediapipe_world"
    assert get_adapter("COCO").name == "coco17"
    assert get_adapter("openpose").name == "openpose_body25"
    with pytest.raises(AdapterError) as e:
        get_adapter("alphapose")
    for name in ALL:
        assert name in str(e.value)


@pytest.mark.parametrize("name", sorted(ALL))
def test_tables_are_proper_rotations_and_affine(name):
    a = get_adapter(name)
    axes = np.asarray(a.axes, np.float64)
    assert np.allclose(axes @ axes.T, np.eye(3))
    assert np.linalg.det(axes) == pytest.approx(1.0), "an axis change with det -1 would mirror the subject"
    # Every joint is an affine combination of source joints: moving the source moves every joint alike.
    assert np.allclose(a.weights.sum(axis=1), 1.0)
    assert not a.missing.any()
    # Joints made of several sources are flagged synthesised.
    for v in range(25):
        if np.count_nonzero(a.weights[v]) > 1:
            assert a.synthesised[v]


def test_mediapipe_axes_turn_mediapipe_camera_frame_into_the_convention():
    a = get_adapter("mediapipe_world")
    # A point right of, below and behind the hips in MediaPipe's frame ...
    pts = np.zeros((1, 33, 3), np.float32)
    pts[0, MEDIAPIPE_LANDMARKS.index("left_wrist")] = [0.3, 0.2, 0.1]
    joints, _ = a.to_ntu(pts)
    # ... is at the camera's right (-x), below (-y), further away (+z) in the convention.
    assert joints[0, J["left_wrist"]] == pytest.approx([-0.3, -0.2, 0.1])


def test_mediapipe_round_trip_of_a_real_kinect_skeleton_keeps_pose_and_handedness(handshake):
    kinect = handshake.joints[0]
    joints, conf = get_adapter("mediapipe_world").to_ntu(mediapipe_from_kinect(kinect))
    direct = [J[n] for n in ("left_shoulder", "right_elbow", "left_wrist", "right_hip", "left_knee", "right_ankle")]
    assert np.allclose(joints[:, direct], kinect[:, direct], atol=1e-6)
    assert (conf[:, direct] == 1).all()
    # The synthesised spine lies near Kinect's own spine joints.
    for name in ("spine_base", "spine_shoulder", "spine_mid"):
        assert np.median(np.linalg.norm(joints[:, J[name]] - kinect[:, J[name]], axis=-1)) < 0.06
    assert (handedness(joints) > 0).mean() > 0.95
    assert left_right_consistent(joints).all()


def test_visibility_becomes_confidence_and_synthesised_joints_are_capped():
    a = get_adapter("mediapipe_world")
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(4, 33, 3)).astype(np.float32)
    vis = rng.uniform(0.0, 1.0, size=(4, 33)).astype(np.float32)
    _, conf = a.to_ntu(pts, vis)
    assert np.allclose(conf[:, J["left_elbow"]], vis[:, MEDIAPIPE_LANDMARKS.index("left_elbow")])
    synth = a.synthesised
    assert (conf[:, synth] <= SYNTHESISED).all()
    hips = vis[:, [MEDIAPIPE_LANDMARKS.index("left_hip"), MEDIAPIPE_LANDMARKS.index("right_hip")]].min(axis=1)
    assert np.allclose(conf[:, J["spine_base"]], np.minimum(hips, SYNTHESISED))
    # Thumbs are copied but only stand in for Kinect's thumb tip: synthesised too.
    assert synth[J["left_thumb"]] and synth[J["right_thumb"]] and not synth[J["left_wrist"]]
    # A missing (NaN) landmark zeroes what is built from it.
    pts[1, MEDIAPIPE_LANDMARKS.index("right_ear")] = np.nan
    joints, conf = a.to_ntu(pts, vis)
    assert conf[1, J["head"]] == 0 and conf[1, J["neck"]] == 0 and (joints[1, J["head"]] == 0).all()
    assert np.isfinite(joints).all()


def test_mediapipe_mirrored_flag_undoes_a_mirror_image_exactly(handshake):
    a = get_adapter("mediapipe_world")
    real = mediapipe_from_kinect(handshake.joints[0])
    # What MediaPipe reports for a flipped image: x negated, left and right labels swapped.
    seen = real[:, MEDIAPIPE_MIRROR] * np.array([-1.0, 1.0, 1.0], np.float32)
    truth, c1 = a.to_ntu(real)
    undone, c2 = a.to_ntu(seen, mirrored=True)
    assert np.allclose(undone, truth, atol=1e-6)
    assert np.array_equal(c1, c2)
    wrong, _ = a.to_ntu(seen)
    # Unflagged, the mirror image reads as a plausible person -- the subject's mirror twin,
    # raising the other hand -- so only the source's mirrored property can set it right.
    assert (handedness(wrong) > 0).mean() > 0.95
    assert np.allclose(wrong, mirror(truth)[0], atol=1e-6)
    hand = J["right_wrist"]  # the handshake hand
    assert np.linalg.norm(wrong[:, hand] - truth[:, hand], axis=-1).mean() > 0.2


def test_naive_y_flip_of_mediapipe_axes_would_make_a_mirror_person(handshake):
    """Negating only y (det -1) is the tempting wrong change of axes: feet then point backwards."""
    good = get_adapter("mediapipe_world")
    naive = LayoutAdapter(name="naive", source_joints=good.source_joints, recipes=good.recipes,
                          axes=np.diag([1.0, -1.0, 1.0]).astype(np.float32))
    real = mediapipe_from_kinect(handshake.joints[0])
    assert (handedness(good.to_ntu(real)[0]) > 0).mean() > 0.95
    assert (handedness(naive.to_ntu(real)[0]) < 0).mean() > 0.95


def test_mirror_swaps_every_left_joint_with_its_right_twin():
    j = np.random.default_rng(1).normal(size=(3, 25, 3)).astype(np.float32)
    m, _ = mirror(j)
    assert np.allclose(m[:, J["left_elbow"]], j[:, J["right_elbow"]] * [-1, 1, 1])
    assert np.allclose(m[:, J["spine_mid"]], j[:, J["spine_mid"]] * [-1, 1, 1])
    assert np.allclose(mirror(m)[0], j)
    assert sorted(MIRROR_PERMUTATION) == list(range(25))


def _openpose_from_ntu_pixels(pix: np.ndarray) -> np.ndarray:
    stand_in = {
        "nose": "head", "neck": "spine_shoulder", "mid_hip": "spine_base", "right_eye": "head", "left_eye": "head",
        "right_ear": "head", "left_ear": "head", "left_big_toe": "left_foot", "left_small_toe": "left_foot",
        "left_heel": "left_ankle", "right_big_toe": "right_foot", "right_small_toe": "right_foot",
        "right_heel": "right_ankle",
    }
    return pix[:, [J[stand_in.get(n, n)] for n in OPENPOSE_BODY25_KEYPOINTS]]


def _coco_from_ntu_pixels(pix: np.ndarray) -> np.ndarray:
    out = pix[:, [J[n] if n in J else J["head"] for n in COCO17_KEYPOINTS]].copy()
    # Ears either side of the head, so that the ear midpoint is the head.
    out[:, COCO17_KEYPOINTS.index("left_ear"), 0] += 15
    out[:, COCO17_KEYPOINTS.index("right_ear"), 0] -= 15
    return out


@pytest.mark.parametrize("name,build", [("openpose_body25", _openpose_from_ntu_pixels), ("coco17", _coco_from_ntu_pixels)])
def test_2d_adapters_lift_real_kinect_colour_keypoints(handshake, name, build):
    """NTU files carry each joint's colour-image pixel, in the mirrored colour image.

    A 2D pose estimator run on that image labels sides as it sees them -- the mirror
    twin's -- so its keypoints are the Kinect pixels with left and right swapped.
    Lifting those with ``mirrored=True`` must put the bodies where the Kinect
    measured them in 3D; without it the picture is mirrored.
    """
    a = get_adapter(name)
    for m in range(2):
        kinect = handshake.joints[m]
        kp = build(handshake.image_points[m][:, MIRROR_PERMUTATION])
        scores = np.full(kp.shape[:2], 0.9, np.float32)
        joints, conf = a.to_ntu(kp, scores, mirrored=True, image_size=(1920, 1080))
        assert joints.shape == (70, 25, 3) and conf.shape == (70, 25)
        assert conf.max() == pytest.approx(0.9) and (conf[:, a.synthesised] <= SYNTHESISED).all()
        torso = np.linalg.norm(joints[:, J["spine_shoulder"]] - joints[:, J["spine_base"]], axis=-1)
        assert np.median(torso) == pytest.approx(TORSO_M, rel=1e-3)
        assert np.allclose(joints[..., 2], NOMINAL_DEPTH)
        body = [J[n] for n in ("spine_base", "left_shoulder", "right_shoulder", "left_wrist", "right_wrist",
                               "left_knee", "right_knee", "left_ankle", "right_ankle", "head")]
        # Image-plane positions agree with the Kinect's metres (x towards the camera's left, y up).
        for c in (0, 1):
            r = np.corrcoef(joints[:, body, c].ravel(), kinect[:, body, c].ravel())[0, 1]
            assert r > 0.9, (m, c, r)
        assert np.sign(joints[0, J["spine_base"], 0]) == np.sign(kinect[0, J["spine_base"], 0])
        assert np.median(np.abs(joints[:, J["spine_base"], 0] - kinect[:, J["spine_base"], 0])) < 0.15
        # Limbs point the same way in the image plane.
        d2, dk = limb_directions(joints)[..., :2], limb_directions(kinect)[..., :2]
        dk = dk / np.linalg.norm(dk, axis=-1, keepdims=True)
        assert np.median((d2 * dk).sum(-1)) > 0.9
        wrong, _ = a.to_ntu(kp, scores, mirrored=False, image_size=(1920, 1080))
        err = np.median(np.abs(joints[:, body, 0] - kinect[:, body, 0]))
        err_wrong = np.median(np.abs(wrong[:, body, 0] - kinect[:, body, 0]))
        assert err < 0.15 and err_wrong > 3 * err, "without the mirrored flag the person lands mirrored"


def test_2d_adapter_marks_missing_keypoints_and_falls_back_without_torso():
    a = get_adapter("coco17")
    kp = np.random.default_rng(2).uniform(100, 400, size=(2, 17, 2)).astype(np.float32)
    scores = np.ones((2, 17), np.float32)
    scores[:, COCO17_KEYPOINTS.index("left_hip")] = 0.0  # no hips: no torso to measure
    joints, conf = a.to_ntu(kp, scores)
    assert conf[:, J["left_hip"]].max() == 0 and conf[:, J["spine_base"]].max() == 0
    assert (joints[:, J["left_hip"]] == 0).all()
    assert conf[:, J["left_wrist"]].min() == 1.0 and conf[:, J["left_foot"]].max() == SYNTHESISED
    assert np.isfinite(joints).all()
    with pytest.raises(AdapterError):
        a.to_ntu(np.zeros((2, 18, 2)), None)


def test_mediapipe_image_lift_matches_world_landmarks_up_to_scale(handshake):
    """Project real-proportioned world landmarks orthographically into a 640x480 image;
    after normalisation the image adapter gives back the world adapter's skeleton."""
    world = mediapipe_from_kinect(handshake.joints[1] - handshake.joints[1, :, :1])
    w, h, k = 640.0, 480.0, 150.0  # pixels per metre
    normed = np.stack([0.5 + k * world[..., 0] / w, 0.5 + k * world[..., 1] / h, k * world[..., 2] / w], axis=-1)
    a_img, a_world = get_adapter("mediapipe_image"), get_adapter("mediapipe_world")
    lifted, c1 = a_img.to_ntu(normed, image_size=(640, 480))
    truth, c2 = a_world.to_ntu(world)
    assert np.array_equal(c1, c2)
    n1, _ = normalize(lifted, c1)
    n2, _ = normalize(truth, c2)
    assert np.allclose(n1, n2, atol=1e-4)
    torso = np.linalg.norm(lifted[:, J["spine_shoulder"], :2] - lifted[:, J["spine_base"], :2], axis=-1)
    assert np.median(torso) == pytest.approx(TORSO_M, rel=1e-3)
    # Mirroring an image adapter flips about the image centre.
    m, _ = a_img.to_ntu(normed, image_size=(640, 480), mirrored=True)
    assert np.allclose(m[:, J["left_wrist"]], lifted[:, J["right_wrist"]] * [-1, 1, 1], atol=1e-5)


def test_bvh_name_table_matches_bandai_cmu_and_mixamo_names():
    bandai = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Head_End", "Shoulder_L", "UpperArm_L",
              "LowerArm_L", "Hand_L", "Hand_L_End", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]
    found = match_bvh_names(bandai)
    assert found["hips"] == 1 and found["chest"] == 3 and found["neck"] == 4 and found["head_end"] == 6
    assert found["l_shoulder"] == 8 and found["l_elbow"] == 9 and found["l_wrist"] == 10
    assert found["r_hip"] == 12 and found["r_toes"] == 15
    assert "l_clavicle" not in found and "r_shoulder" not in found
    cmu = ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "Spine", "Spine1", "Neck", "Head",
           "RightShoulder", "RightArm", "RightForeArm", "RightHand"]
    found = match_bvh_names(cmu)
    assert found["l_hip"] == 1 and found["l_knee"] == 2 and found["chest"] == 6
    assert found["r_shoulder"] == 10 and found["r_elbow"] == 11 and found["r_wrist"] == 12
    assert normalise_joint_name("mixamorig:LeftForeArm") == "leftforearm"
    assert match_bvh_names(["mixamorig:Hips", "mixamorig:Spine2", "mixamorig:Spine1"])["chest"] == 1
    assert set(BVH_CANONICAL) >= {"hips", "head_end", "l_hand_end", "r_toes"}


def test_layout_adapter_rejects_bad_tables_and_shapes():
    with pytest.raises(AdapterError, match="unknown source joint"):
        LayoutAdapter(name="bad", source_joints=("a",), recipes={"head": (("b", 1.0),)})
    with pytest.raises(AdapterError, match="expected joints"):
        get_adapter("mediapipe_world").to_ntu(np.zeros((1, 25, 3)))
