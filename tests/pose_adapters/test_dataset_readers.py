"""UTD-MHAD, SBU Kinect Interaction and CMU (Character Creator BVH) readers.

Real-data tests read ../shared in place (marked ``real_data``; they skip, saying why, when a
folder is absent) and check the convention against what the subjects do: the right wrist
waves in UTD's right-hand wave, SBU's approaching pair closes in, CMU's walker stands
1.5-1.9 m tall with y up.  Malformed files are written to tmp_path.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from pose_adapters import SYNTHESISED, get_adapter
from pose_adapters.convention import JOINT_INDEX as J
from pose_adapters.readers import (
    SBU_ACTIONS, UTD_ACTIONS, SkeletonFileError, bvh_to_ntu, parse_cmu_name, parse_sbu_path, parse_utd_name,
    read_bvh, read_cmu_bvh, read_ntu_skeleton, read_sbu, read_utd, starts_with_tpose,
)

from conftest import SHARED, need  # skips (or fails under MS2L_REQUIRE_DATA=1) when ../shared lacks the data

DATASETS = SHARED / "datasets"


@contextmanager
def raises_naming(path: Path, words: str):
    """Expect a SkeletonFileError matching ``words`` whose message names ``path``."""
    with pytest.raises(SkeletonFileError, match=words) as info:
        yield info
    assert str(path) in str(info.value), str(info.value)


# ---------------------------------------------------------------- name parsers

def test_parse_utd_name():
    assert parse_utd_name("a3_s1_t1_skeleton.mat") == (3, 1, 1)
    assert parse_utd_name("/x/a27_s8_t4_skeleton.mat") == (27, 8, 4)
    assert parse_utd_name("a10_s2_t3") == (10, 2, 3)
    assert len(UTD_ACTIONS) == 27 and UTD_ACTIONS[2] == "right-hand wave"
    assert UTD_ACTIONS[0] == "right-arm swipe to the left" and UTD_ACTIONS[26] == "squat (two arms stretch out)"
    for bad, words in (("a28_s1_t1_skeleton.mat", "unknown action a28"), ("a0_s1_t1_skeleton.mat", "unknown action"),
                       ("s1_t1_skeleton.mat", "a<A>_s<S>_t<T>"), ("a1_s0_t1_skeleton.mat", "start at 1")):
        with pytest.raises(SkeletonFileError, match=words):
            parse_utd_name(bad)


def test_parse_sbu_path():
    assert parse_sbu_path("/d/s01s02/05/001/skeleton_pos.txt") == ((1, 2), 5, 1)
    assert parse_sbu_path(Path("s07s03/08/003/skeleton_pos.txt")) == ((7, 3), 8, 3)
    assert SBU_ACTIONS[0] == "approaching" and SBU_ACTIONS[4] == "shaking hands" and len(SBU_ACTIONS) == 8
    for bad, words in (("s01s02/09/001/skeleton_pos.txt", "unknown class folder 09"),
                       ("s01s02/01/001/other.txt", "s<PP>s<QQ>"), ("x01s02/01/001/skeleton_pos.txt", "found x01s02")):
        with pytest.raises(SkeletonFileError, match=words):
            parse_sbu_path(bad)


def test_parse_cmu_name():
    assert parse_cmu_name("002_01.bvh") == (2, 1) and parse_cmu_name("/s/007/007_12.bvh") == (7, 12)
    with pytest.raises(SkeletonFileError, match="<subject>_<trial>"):
        parse_cmu_name("walk.bvh")


def test_new_tables_are_registered():
    assert get_adapter("utd_mhad").name == "utd_mhad" and get_adapter("utd-mhad").num_source_joints == 20
    sbu = get_adapter("sbu15")
    assert sbu.num_source_joints == 15 and not sbu.missing.any()
    assert sbu.synthesised[J["left_wrist"]] and sbu.synthesised[J["spine_base"]] and not sbu.synthesised[J["left_hand"]]


# ---------------------------------------------------------------- UTD-MHAD

def _utd_file(tmp_path: Path, d_skel=None, name: str = "a3_s1_t1_skeleton.mat", key: str = "d_skel") -> Path:
    from scipy.io import savemat
    if d_skel is None:
        d_skel = np.arange(20 * 3 * 4, dtype=np.float64).reshape(20, 3, 4) / 100.0
    path = tmp_path / name
    savemat(path, {key: d_skel})
    return path


def test_utd_joint_order_and_fields(tmp_path):
    pytest.importorskip("scipy")
    raw = np.random.default_rng(0).uniform(-1, 3, (20, 3, 5))
    clip = read_utd(_utd_file(tmp_path, raw))
    assert (clip.name, clip.action, clip.subject, clip.trial, clip.fps) == ("a3_s1_t1", 3, 1, 1, 30.0)
    assert clip.label_name == "right-hand wave"
    assert clip.joints.shape == (5, 25, 3) and clip.joints.dtype == np.float32 and clip.confidence.shape == (5, 25)
    frames = raw.transpose(2, 0, 1)  # UTD order: 1 head, 2 shoulder centre, 3 spine, 4 hip centre, 11 right wrist
    for utd, ntu in ((0, "head"), (1, "spine_shoulder"), (2, "spine_mid"), (3, "spine_base"), (10, "right_wrist"),
                     (4, "left_shoulder"), (19, "right_foot")):
        assert np.allclose(clip.joints[:, J[ntu]], frames[:, utd], atol=1e-6), ntu
    assert (clip.confidence[:, J["right_wrist"]] == 1).all() and (clip.confidence[:, J["neck"]] == SYNTHESISED).all()


@pytest.mark.parametrize("case,words", [
    ("missing", "cannot read"),
    ("empty", "empty file"),
    ("not_mat", "not a readable MATLAB .mat file"),
    ("truncated", "not a readable MATLAB .mat file"),
    ("wrong_name", r"no 'd_skel' array \(found: skel\)"),
    ("wrong_shape", r"shape \[25, 3, 4\], expected \[20, 3, T>0\]"),
    ("no_frames", r"shape \[20, 3, 0\]"),
    ("two_d", r"shape \[20, 3\]"),
    ("nan", r"non-finite value \(NaN or infinity\) in frame 2"),
    ("text", "not a numeric array"),
    ("huge", "not metres"),
])
def test_utd_malformed_files(tmp_path, case, words):
    pytest.importorskip("scipy")
    path = tmp_path / "a3_s1_t1_skeleton.mat"
    good = np.zeros((20, 3, 4))
    if case == "empty":
        path.write_bytes(b"")
    elif case == "not_mat":
        path.write_text("this is not a MATLAB file\n" * 20)
    elif case == "truncated":
        data = _utd_file(tmp_path, np.random.default_rng(1).normal(size=(20, 3, 50))).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "wrong_name":
        _utd_file(tmp_path, good, key="skel")
    elif case == "wrong_shape":
        _utd_file(tmp_path, np.zeros((25, 3, 4)))
    elif case == "no_frames":
        _utd_file(tmp_path, np.zeros((20, 3, 0)))
    elif case == "two_d":
        _utd_file(tmp_path, np.zeros((20, 3)))
    elif case == "nan":
        bad = good.copy()
        bad[5, 1, 1] = np.nan
        _utd_file(tmp_path, bad)
    elif case == "text":
        _utd_file(tmp_path, np.array(["head", "neck"]))
    elif case == "huge":
        _utd_file(tmp_path, good + 1e40)
    with raises_naming(path, words):
        read_utd(path)


@pytest.mark.real_data
def test_utd_real_clips_follow_the_convention():
    pytest.importorskip("scipy")
    root = need(DATASETS / "utd-mhad" / "Skeleton")
    names = sorted(p.name for p in root.glob("*_skeleton.mat"))
    assert len(names) == 861 and all(parse_utd_name(n) for n in names)
    wave = read_utd(root / "a3_s1_t1_skeleton.mat")
    assert wave.joints.shape == (72, 25, 3) and wave.confidence.shape == (72, 25) and wave.fps == 30.0
    assert (wave.action, wave.subject, wave.trial, wave.label_name) == (3, 1, 1, "right-hand wave")
    # Right-hand wave: of the measured joints, the right wrist moves most; the left one is still.
    measured = [J[n] for n in ("head", "spine_shoulder", "spine_mid", "spine_base", "left_shoulder", "left_elbow",
                               "left_wrist", "right_shoulder", "right_elbow", "right_wrist", "left_knee", "right_knee")]
    motion = wave.joints[:, measured].std(axis=0).sum(axis=-1)
    assert measured[int(np.argmax(motion))] == J["right_wrist"]
    assert wave.joints[:, J["right_wrist"], 1].std() > 0.2 > 0.05 > wave.joints[:, J["left_wrist"], 1].std()
    # NTU's Kinect v2 puts a subject facing the camera with the right shoulder at +x; UTD agrees.
    ntu_dir = DATASETS / "ntu-samples"
    if ntu_dir.exists():
        ntu = read_ntu_skeleton(ntu_dir / "S001C001P001R001A011.skeleton")
        assert np.median(ntu.joints[0, :, J["right_shoulder"], 0] - ntu.joints[0, :, J["left_shoulder"], 0]) > 0.15
    travel: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for action in (1, 2, 3):
        for f in sorted(root.glob(f"a{action}_s[12]_t*_skeleton.mat")):
            j = read_utd(f).joints
            assert np.median(j[:, J["right_shoulder"], 0] - j[:, J["left_shoulder"], 0]) > 0.2, f.name
            assert (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).all(), f.name
            assert j[:, J["right_wrist"]].std(0).sum() > 5 * j[:, J["left_wrist"]].std(0).sum(), f.name
            # Sideways travel of the raised right wrist (steps over 2 cm a frame).
            up = j[:, J["right_wrist"], 1] > j[:, J["spine_mid"], 1]
            dx = np.diff(j[:, J["right_wrist"], 0])[up[1:] & up[:-1]]
            travel[action].append(float(dx[np.abs(dx) > 0.02].sum()))
    # Swipes go to the subject's left (-x) in a1 and to the right (+x) in a2.
    assert len(travel[1]) >= 7 and np.median(travel[1]) < -0.2 and np.median(travel[2]) > 0.2, travel


# ---------------------------------------------------------------- SBU Kinect Interaction

def _sbu_path(tmp_path: Path, label: int = 1) -> Path:
    path = tmp_path / "s01s02" / f"{label:02d}" / "001" / "skeleton_pos.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _sbu_line(frame: int, values: np.ndarray) -> str:
    return ",".join([str(frame)] + [repr(float(v)) for v in np.ravel(values)])


def test_sbu_denormalisation_and_fields(tmp_path):
    rng = np.random.default_rng(0)
    mm = rng.uniform([-800, -900, 1200], [800, 700, 3000], (3, 2, 15, 3))  # [T, M, V, C] millimetres
    norm = np.stack([(1280 - mm[..., 0]) / 2560, (960 - mm[..., 1]) / 1920, mm[..., 2] * 7.8125 / 10000], axis=-1)
    path = _sbu_path(tmp_path, 5)
    path.write_text("\n".join(_sbu_line(10 + t, norm[t]) for t in range(3)) + "\n")
    clip = read_sbu(path)
    assert (clip.name, clip.label, clip.pair, clip.take, clip.fps) == ("s01s02_05_001", 5, (1, 2), 1, 15.0)
    assert clip.label_name == "shaking hands" and clip.frames.tolist() == [10, 11, 12]
    assert clip.joints.shape == (2, 3, 25, 3) and clip.joints.dtype == np.float32
    assert clip.confidence.shape == (2, 3, 25)
    metres = mm.transpose(1, 0, 2, 3) / 1000  # [M, T, V, C]
    for sbu, ntu in ((0, "head"), (1, "spine_shoulder"), (2, "spine_mid"), (3, "left_shoulder"), (5, "left_hand"),
                     (8, "right_hand"), (11, "left_foot"), (14, "right_foot")):
        assert np.allclose(clip.joints[:, :, J[ntu]], metres[:, :, sbu], atol=1e-5), ntu
    assert np.allclose(clip.joints[:, :, J["spine_base"]], (metres[:, :, 9] + metres[:, :, 12]) / 2, atol=1e-5)
    assert (clip.confidence[:, :, J["left_hand"]] == 1).all()
    assert (clip.confidence[:, :, J["left_wrist"]] == SYNTHESISED).all()


@pytest.mark.parametrize("case,line,words", [
    ("missing", None, "cannot read"),
    ("empty", None, "empty file"),
    ("blank", None, "empty file"),
    ("fields", 2, "expected 91 comma-separated fields .* found 90"),
    ("space_separated", 1, "found 1$"),
    ("text", 2, r"coordinate 7: 'abc' is not a number"),
    ("frame_text", 1, r"frame number: 'x' is not a number"),
    ("nan", 3, r"non-finite value \(NaN or infinity\)"),
    ("order", 3, "frame number 2 does not follow 2"),
    ("fraction", 1, "not a whole number"),
    ("binary", 1, "not a text file"),
    ("huge", 2, "not normalised"),
])
def test_sbu_malformed_files(tmp_path, case, line, words):
    path = _sbu_path(tmp_path)
    values = np.full(90, 0.5)
    lines = [_sbu_line(k + 1, values) for k in range(3)]
    if case == "empty":
        lines = []
    elif case == "blank":
        lines = ["", "   "]
    elif case == "fields":
        lines[1] = lines[1].rsplit(",", 1)[0]
    elif case == "space_separated":
        lines[0] = lines[0].replace(",", " ")
    elif case == "text":
        fields = lines[1].split(",")
        fields[7] = "abc"
        lines[1] = ",".join(fields)
    elif case == "frame_text":
        lines[0] = "x" + lines[0][1:]
    elif case == "nan":
        lines[2] = lines[2].replace("0.5", "nan", 1)
    elif case == "order":
        lines[2] = "2" + lines[2][1:]
    elif case == "fraction":
        lines[0] = "1.5" + lines[0][1:]
    elif case == "huge":
        lines[1] = lines[1].replace("0.5", "1e300", 1)
    if case == "binary":
        path.write_bytes(b"\xff\xfe" + b"\x00" * 10)
    elif case != "missing":
        path.write_text("\n".join(lines) + ("\n" if lines else ""))
    with raises_naming(path, words) as info:
        read_sbu(path)
    assert info.value.line == line


def _torso_distance(clip) -> np.ndarray:
    tor = clip.joints[:, :, J["spine_mid"]]
    return np.linalg.norm(tor[0] - tor[1], axis=-1)


@pytest.mark.real_data
def test_sbu_real_takes_follow_the_class_order_and_the_convention():
    root = need(DATASETS / "sbu-kinect-interaction")
    clip = read_sbu(root / "s01s02" / "01" / "001" / "skeleton_pos.txt")
    assert (clip.label, clip.pair, clip.take, clip.fps, clip.label_name) == (1, (1, 2), 1, 15.0, "approaching")
    assert clip.joints.shape == (2, 45, 25, 3) and clip.confidence.shape == (2, 45, 25)
    # Class 01 approaching / 02 departing: the torsos close in / draw apart in every take.
    for label, sign in ((1, -1), (2, +1)):
        takes = sorted(root.glob(f"s*s*/{label:02d}/*/skeleton_pos.txt"))
        assert len(takes) > 40
        for f in takes:
            d = _torso_distance(read_sbu(f))
            assert sign * (d[-1] - d[0]) > 0.2, f
    # Class 05 shaking hands: the two right hands meet (the left hands stay apart).
    meet = []
    for f in sorted(root.glob("s*s*/05/*/skeleton_pos.txt")):
        j = read_sbu(f).joints
        rr = np.linalg.norm(j[0, :, J["right_hand"]] - j[1, :, J["right_hand"]], axis=-1).min()
        ll = np.linalg.norm(j[0, :, J["left_hand"]] - j[1, :, J["left_hand"]], axis=-1).min()
        meet.append(rr < 0.15 and ll > 0.3)
    assert np.mean(meet) > 0.7
    # Axes: y up (head above neck above torso), and with right - left shoulders along x
    # the two people face each other only in a right-handed, unmirrored frame.
    j = clip.joints
    assert (j[:, :, J["head"], 1] > j[:, :, J["spine_shoulder"], 1]).all()
    assert (j[:, :, J["spine_shoulder"], 1] > j[:, :, J["spine_mid"], 1]).all()
    assert (j[:, :, J["spine_mid"], 1] > j[:, :, J["left_knee"], 1]).all()
    up = j[:, :, J["spine_shoulder"]] - j[:, :, J["spine_mid"]]
    forward = np.cross(up, j[:, :, J["right_shoulder"]] - j[:, :, J["left_shoulder"]])
    tor = j[:, :, J["spine_mid"]]
    toward = np.stack([tor[1] - tor[0], tor[0] - tor[1]])
    assert ((forward * toward).sum(-1) > 0).mean() > 0.9
    thigh = np.linalg.norm(j[:, :, J["left_knee"]] - j[:, :, J["left_hip"]], axis=-1)
    assert 0.3 < np.median(thigh) < 0.55, "millimetres became metres"


# ---------------------------------------------------------------- CMU BVH (Character Creator rig)

_CC_BODY = [  # name, parent, offset (cm, Y up, facing +Z: the subject's left is +X)
    ("CC_Base_Hip", None, (0, 100, 0)),
    ("CC_Base_Spine02", "CC_Base_Hip", (0, 25, 0)),
    ("CC_Base_NeckTwist01", "CC_Base_Spine02", (0, 25, 0)),
    ("CC_Base_Head", "CC_Base_NeckTwist01", (0, 8, 0)),
    ("CC_Base_L_Upperarm", "CC_Base_Spine02", (18, 20, 0)),
    ("CC_Base_L_Forearm", "CC_Base_L_Upperarm", (28, 0, 0)),
    ("CC_Base_L_Hand", "CC_Base_L_Forearm", (26, 0, 0)),
    ("CC_Base_R_Upperarm", "CC_Base_Spine02", (-18, 20, 0)),
    ("CC_Base_R_Forearm", "CC_Base_R_Upperarm", (-28, 0, 0)),
    ("CC_Base_R_Hand", "CC_Base_R_Forearm", (-26, 0, 0)),
    ("CC_Base_L_Thigh", "CC_Base_Hip", (10, -5, 0)),
    ("CC_Base_L_Calf", "CC_Base_L_Thigh", (0, -45, 0)),
    ("CC_Base_L_Foot", "CC_Base_L_Calf", (0, -42, 0)),
    ("CC_Base_L_ToeBase", "CC_Base_L_Foot", (0, -8, 14)),
    ("CC_Base_R_Thigh", "CC_Base_Hip", (-10, -5, 0)),
    ("CC_Base_R_Calf", "CC_Base_R_Thigh", (0, -45, 0)),
    ("CC_Base_R_Foot", "CC_Base_R_Calf", (0, -42, 0)),
    ("CC_Base_R_ToeBase", "CC_Base_R_Foot", (0, -8, 14)),
]


def _cc_bvh(path: Path, *, tpose_first: bool = True, z_up: bool = False, drop: tuple[str, ...] = ()) -> Path:
    """A CC-named BVH: a T-pose at the origin, then 5 frames standing 2 m away, arms down.

    ``z_up`` turns the whole world +90 degrees about X with the root's rotation, so the
    posed skeleton is Z up and faces -Y (the root position is turned to match).
    """
    body = [b for b in _CC_BODY if b[0] not in drop]
    children: dict[str | None, list] = {}
    for b in body:
        children.setdefault(b[1], []).append(b)
    out = ["HIERARCHY"]

    def emit(b, depth):
        pad = "  " * depth
        root = b[1] is None
        out.append(f"{pad}{'ROOT' if root else 'JOINT'} {b[0]}")
        out.append(pad + "{")
        out.append(f"{pad}  OFFSET {b[2][0]} {b[2][1]} {b[2][2]}")
        position = "6 Xposition Yposition Zposition " if root else "3 "
        out.append(f"{pad}  CHANNELS {position}Zrotation Xrotation Yrotation")
        for c in children.get(b[0], []):
            emit(c, depth + 1)
        if not children.get(b[0]):
            out.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 1 0", pad + "  }"])
        out.append(pad + "}")

    emit(children[None][0], 0)
    frames = []
    for t in range(6):
        tpose = t == 0 and tpose_first
        root = np.array([0.0, 100.0, 0.0]) if tpose else np.array([200.0, 100.0, 2.0 * t])
        rx = 0.0
        if z_up:
            root, rx = np.array([root[0], -root[2], root[1]]), 90.0
        values = [*root, 0.0, rx, 0.0]
        for name, _, _ in body[1:]:
            z = 0.0 if tpose else {"CC_Base_L_Upperarm": -80.0, "CC_Base_R_Upperarm": 80.0}.get(name, 0.0)
            values += [z, 0.0, 0.0]
        frames.append(" ".join(f"{v:g}" for v in values))
    out += ["MOTION", f"Frames: {len(frames)}", "Frame Time: 0.016667", *frames]
    path.write_text("\n".join(out) + "\n")
    return path


def test_cmu_tpose_is_dropped_only_when_prepended(tmp_path):
    with_tpose = read_cmu_bvh(_cc_bvh(tmp_path / "007_03.bvh"))
    assert with_tpose.num_frames == 5 and with_tpose.fps == pytest.approx(60, abs=0.01)
    assert starts_with_tpose(read_bvh(tmp_path / "007_03.bvh"))
    assert read_cmu_bvh(tmp_path / "007_03.bvh", drop_tpose=False).num_frames == 6
    assert read_bvh(tmp_path / "007_03.bvh", skip_first=1).num_frames == 5
    plain = read_cmu_bvh(_cc_bvh(tmp_path / "002_01.bvh", tpose_first=False))
    assert plain.num_frames == 6 and not starts_with_tpose(plain)
    assert read_cmu_bvh(tmp_path / "002_01.bvh", drop_tpose=True).num_frames == 5
    with raises_naming(tmp_path / "002_01.bvh", "cannot skip 6 of its 6 frame"):
        read_bvh(tmp_path / "002_01.bvh", skip_first=6)


def test_cmu_names_and_z_up(tmp_path):
    y = read_cmu_bvh(_cc_bvh(tmp_path / "y.bvh"))
    z = read_cmu_bvh(_cc_bvh(tmp_path / "z.bvh", z_up=True))
    jy, cy = bvh_to_ntu(y)
    jz, cz = bvh_to_ntu(z, up="auto")
    assert np.allclose(jz, jy, atol=1e-4) and np.array_equal(cz, cy)
    assert np.allclose(bvh_to_ntu(z, up="z")[0], jy, atol=1e-4)
    assert np.allclose(bvh_to_ntu(y, up="auto")[0], jy)
    assert not np.allclose(bvh_to_ntu(z)[0], jy, atol=0.1), "a Z-up world read as Y-up lies on its back"
    # Every body joint found by its CC_Base name; head and hands built from neighbours.
    assert (cy[:, [J["spine_base"], J["left_wrist"], J["right_ankle"], J["left_foot"]]] == 1).all()
    assert (cy[:, J["head"]] == SYNTHESISED).all() and (cy > 0).all()
    assert (jy[:, J["head"], 1] > jy[:, J["spine_base"], 1]).all()
    assert (jy[:, J["right_shoulder"], 0] > jy[:, J["left_shoulder"], 0]).all(), "the subject's right at +x"
    with pytest.raises(ValueError, match="up must be"):
        bvh_to_ntu(y, up="x")


def test_cmu_style_bvh_with_missing_joints(tmp_path):
    path = _cc_bvh(tmp_path / "001_01.bvh", drop=("CC_Base_L_Upperarm", "CC_Base_L_Forearm", "CC_Base_L_Hand"))
    with raises_naming(path, r"no joint for l_shoulder \(CC_Base_L_Upperarm\), l_elbow .*l_wrist"):
        read_cmu_bvh(path)
    path = _cc_bvh(tmp_path / "001_02.bvh", drop=("CC_Base_R_ToeBase",))
    with raises_naming(path, r"no joint for r_toes \(CC_Base_R_ToeBase\)$"):
        read_cmu_bvh(path)
    broken = tmp_path / "001_03.bvh"
    broken.write_text(_cc_bvh(tmp_path / "tmp.bvh").read_text().replace("Frames: 6", "Frames: 7"))
    with raises_naming(broken, "'Frames: 7' but the file has 6 frame lines"):
        read_cmu_bvh(broken)


@pytest.mark.real_data
def test_cmu_real_walk_is_upright_tall_and_advances():
    root = need(DATASETS / "cmu-mocap-bvh" / "subjects")
    walk = read_cmu_bvh(root / "002" / "002_01.bvh")
    assert walk.names[0] == "RL_BoneRoot" and walk.fps == pytest.approx(60, abs=0.01)
    assert walk.num_frames == 171, "002_01 opens in a walk, not a T-pose: nothing is dropped"
    j, c = bvh_to_ntu(walk, up="auto")
    assert (c > 0).all() and j.shape == (171, 25, 3)
    assert np.allclose(j, bvh_to_ntu(walk)[0]), "the root's rotation already poses this Z-up hierarchy Y up"
    feet = np.minimum(j[:, J["left_foot"], 1], j[:, J["right_foot"], 1])
    height = j[:, J["head"], 1] - feet
    assert (height > 1.5).all() and (height < 1.9).all()
    assert (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).all()
    travel = j[-1, J["spine_base"]] - j[0, J["spine_base"]]
    assert np.linalg.norm(travel[[0, 2]]) > 3.0 and abs(travel[1]) < 0.1  # 3.8 m in 2.8 s, on level ground
    assert np.median(j[:, J["right_shoulder"], 0] - j[:, J["left_shoulder"], 0]) > 0.2  # walking towards the camera
    tposed = read_cmu_bvh(root / "007" / "007_03.bvh")
    assert tposed.num_frames == read_bvh(root / "007" / "007_03.bvh").num_frames - 1
