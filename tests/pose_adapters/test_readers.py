"""Dataset readers on real files: NTU RGB+D, NW-UCLA, BVH, PKU-MMD (written from real NTU data)."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pose_adapters import JOINT_INDEX, SYNTHESISED
from pose_adapters.anatomy import forward_direction, handedness, left_right_consistent
from pose_adapters.kinect import KINECT_V1_JOINTS
from pose_adapters.readers import (
    NtuBody, SkeletonFileError, bvh_to_ntu, read_bvh, read_ntu_skeleton, read_nwucla, read_pkummd, write_bvh,
    write_ntu_skeleton, write_nwucla, write_pkummd,
)
from pose_adapters.readers.ntu import INFERRED

J = JOINT_INDEX
A011, A058 = "S001C001P001R001A011.skeleton", "S001C003P008R002A058.skeleton"
LIMB_BONES = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
              ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
              ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("spine_base", "spine_mid"),
              ("spine_mid", "spine_shoulder"), ("spine_shoulder", "head")]


def _walk_ntu(path: Path) -> tuple[int, list[int], set[str]]:
    """An independent, minimal walk over a .skeleton file: frame count, bodies per frame, tracking ids."""
    lines = path.read_text().split("\n")
    frames, i, counts, ids = int(lines[0]), 1, [], set()
    for _ in range(frames):
        b = int(lines[i])
        counts.append(b)
        for k in range(b):
            ids.add(lines[i + 1 + k * 27].split()[0])
        i += 1 + 27 * b
    return frames, counts, ids


def _assert_file_error(exc: pytest.ExceptionInfo, path: Path, line: int | None, words: str) -> None:
    e = exc.value
    assert type(e) is SkeletonFileError
    assert e.path == str(path) and path.name in str(e)
    assert e.line == line, str(e)
    if line is not None:
        assert f"line {line}" in str(e)
    assert re.search(words, str(e)), str(e)


# ---------------------------------------------------------------- NTU RGB+D

def test_ntu_samples_frame_and_body_counts_are_as_in_the_files(ntu_dir):
    files = sorted(ntu_dir.glob("*.skeleton"))
    assert len(files) == 5
    for f in files:
        s = read_ntu_skeleton(f)
        frames, counts, ids = _walk_ntu(f)
        assert s.num_frames == frames and s.body_counts.tolist() == counts
        assert {str(b.tracking_id) for b in s.bodies} == ids
        assert sum(len(b.frames) for b in s.bodies) == sum(counts)
        assert s.joints.shape == (len(s.chosen), frames, 25, 3) and s.joints.dtype == np.float32
        assert s.confidence.shape == (len(s.chosen), frames, 25)
        assert s.action == int(f.stem[-3:]) and s.setup == int(f.stem[1:4])
        assert set(np.unique(s.confidence)) <= {0.0, INFERRED, 1.0}


def test_ntu_handshake_gives_two_bodies_and_single_actions_one(ntu_dir):
    s = read_ntu_skeleton(ntu_dir / A058)
    assert len(s.bodies) == 2 and s.chosen == (0, 1) and s.joints.shape == (2, 70, 25, 3)
    assert (s.confidence.max(axis=-1) > 0).all(), "both people are in every frame"
    # Two different people, about a metre apart, reaching towards each other.
    gap = np.linalg.norm(s.joints[0, :, J["spine_base"]] - s.joints[1, :, J["spine_base"]], axis=-1)
    assert (gap > 0.5).all()
    reach = np.linalg.norm(s.joints[0, :, J["right_hand"]] - s.joints[1, :, J["right_hand"]], axis=-1)
    assert reach.min() < 0.2 < reach[0], "the right hands meet in the handshake"
    one = read_ntu_skeleton(ntu_dir / A058, max_bodies=1)
    assert one.joints.shape == (1, 70, 25, 3)
    for f in ("S001C001P001R001A011", "S002C001P003R001A003", "S003C001P015R001A034", "S004C002P003R001A017"):
        assert read_ntu_skeleton(ntu_dir / f"{f}.skeleton").joints.shape[0] == 1


def test_ntu_bone_lengths_stay_nearly_constant(ntu_dir):
    """A real-skeleton property: a parser that mixed up fields would break it."""
    for f in sorted(ntu_dir.glob("*.skeleton")):
        s = read_ntu_skeleton(f)
        for m in range(s.joints.shape[0]):
            cv = []
            for a, b in LIMB_BONES:
                ok = (s.confidence[m, :, J[a]] == 1) & (s.confidence[m, :, J[b]] == 1)
                length = np.linalg.norm(s.joints[m, ok, J[a]] - s.joints[m, ok, J[b]], axis=-1)
                assert 0.1 < length.mean() < 0.6, (f.name, a, b, length.mean())
                cv.append(length.std() / length.mean())
            assert np.median(cv) < 0.07 and max(cv) < 0.25, (f.name, m, np.round(cv, 3))


def test_ntu_skeletons_are_upright_real_people_in_the_convention(ntu_dir):
    for f in sorted(ntu_dir.glob("*.skeleton")):
        s = read_ntu_skeleton(f)
        for m in range(s.joints.shape[0]):
            j = s.joints[m]
            assert (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).all()
            assert (handedness(j) > 0).mean() > 0.95
            assert left_right_consistent(j).all()
            assert (forward_direction(j)[:, 2] < 0).mean() > 0.9, "NTU subjects face the camera (-z)"
            assert (j[:, J["spine_base"], 2] > 1.5).all(), "metres from the camera"


def test_ntu_round_trip_is_lossless(ntu_dir, tmp_path):
    for name in (A011, A058):
        s = read_ntu_skeleton(ntu_dir / name)
        out = tmp_path / name
        write_ntu_skeleton(s, out)
        back = read_ntu_skeleton(out)
        assert np.array_equal(back.joints, s.joints) and np.array_equal(back.confidence, s.confidence)
        assert np.array_equal(back.body_counts, s.body_counts) and back.chosen == s.chosen
        for b1, b2 in zip(s.bodies, back.bodies):
            assert b1.tracking_id == b2.tracking_id
            assert np.array_equal(b1.fields, b2.fields) and np.array_equal(b1.info, b2.info)
        # Same numbers as the original text, token for token.
        tokens = lambda p: [float(t) for t in p.read_text().split()]  # noqa: E731
        assert tokens(out) == tokens(ntu_dir / name)


def test_ntu_zero_body_frames_and_noisy_extra_bodies(ntu_dir, tmp_path):
    """Real bodies plus what full-dataset files contain: empty frames and short or flat noise bodies."""
    s = read_ntu_skeleton(ntu_dir / A058)
    pad = 3
    real = [dataclasses.replace(b, frames=b.frames + pad) for b in s.bodies]
    rng = np.random.default_rng(0)

    def noise_body(tid: int, frames: np.ndarray, slot: int, flat: bool) -> NtuBody:
        n = len(frames)
        fields = np.zeros((n, 25, 11))
        fields[..., :3] = rng.normal([0.0, 0.0, 3.0], 0.4, size=(n, 25, 3))
        if flat:  # a chair-like blob: wide and low
            fields[..., 1] *= 0.05
        return NtuBody(tid, frames, np.full(n, slot), np.zeros((n, 9)), fields, np.full((n, 25), 2, np.int8))

    short = noise_body(111, np.arange(10, 15) + pad, 2, flat=False)
    flat = noise_body(222, np.arange(0, 70) + pad, 3, flat=True)
    counts = np.concatenate([np.zeros(pad, np.int32), s.body_counts]) + 0
    counts[short.frames] += 1
    counts[flat.frames] += 1
    noisy = dataclasses.replace(s, body_counts=counts, bodies=tuple(real + [short, flat]))
    path = tmp_path / "S001C003P008R002A058.skeleton"
    write_ntu_skeleton(noisy, path)

    got = read_ntu_skeleton(path)
    assert got.num_frames == 73 and got.body_counts[:pad].tolist() == [0, 0, 0]
    assert got.body_counts[pad + 10] == 4 and len(got.bodies) == 4
    assert [got.bodies[i].tracking_id for i in got.chosen] == [b.tracking_id for b in s.bodies]
    assert (got.confidence[:, :pad] == 0).all() and (got.joints[:, :pad] == 0).all()
    assert np.array_equal(got.joints[:, pad:], s.joints)
    # The noise moves more than the people do: activity alone would have picked it.
    assert min(short.activity, flat.activity) > max(b.activity for b in s.bodies)
    alone = read_ntu_skeleton(path, max_bodies=3)
    assert 222 in [alone.bodies[i].tracking_id for i in alone.chosen], "noise only fills spare places"


def _ntu_lines(ntu_dir: Path) -> list[str]:
    return (ntu_dir / A011).read_text().splitlines()


@pytest.mark.parametrize("case,line,words", [
    ("truncated", 2290, r"ends early"),
    ("short_joint_line", 5, r"expected 12 numbers.*found 11"),
    ("non_numeric", 7, r"'abc' is not a number"),
    ("bad_body_count", 2, r"body count of frame 1 .*'x'"),
    ("bad_joint_count", 4, r"joint count is 20"),
    ("bad_state", 6, r"tracking state 7"),
    ("more_frames_promised", 2297, r"promises 83 frames, found 82"),
    ("fewer_frames_promised", 2270, r"unexpected content after the last of 81 frames"),
    ("bad_body_line", 3, r"10 fields on a body line"),
    ("empty", None, r"empty file"),
    ("binary", 1, r"not a text file"),
])
def test_ntu_malformed_files_name_file_line_and_problem(ntu_dir, tmp_path, case, line, words):
    lines = _ntu_lines(ntu_dir)
    if case == "truncated":
        lines = lines[:2290]
    elif case == "short_joint_line":
        lines[4] = " ".join(lines[4].split()[:11])
    elif case == "non_numeric":
        lines[6] = "abc " + " ".join(lines[6].split()[1:])
    elif case == "bad_body_count":
        lines[1] = "x"
    elif case == "bad_joint_count":
        lines[3] = "20"
    elif case == "bad_state":
        lines[5] = " ".join(lines[5].split()[:11] + ["7"])
    elif case == "more_frames_promised":
        lines[0] = "83"
    elif case == "fewer_frames_promised":
        lines[0] = "81"
    elif case == "bad_body_line":
        lines[2] = lines[2] + " 5"
    path = tmp_path / "S001C001P001R001A011.skeleton"
    if case == "empty":
        path.write_text("")
    elif case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    else:
        path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkeletonFileError) as exc:
        read_ntu_skeleton(path)
    _assert_file_error(exc, path, line, words)


def test_ntu_random_damage_only_ever_raises_skeleton_file_error(ntu_dir, tmp_path):
    text = (ntu_dir / A058).read_text()
    tokens = text.split(" ")
    rng = np.random.default_rng(1)
    path = tmp_path / "damaged.skeleton"
    for trial in range(40):
        t = list(tokens)
        for _ in range(3):
            k = int(rng.integers(len(t)))
            t[k] = rng.choice(["", "-1", "1e999", "nan", "25\n25", "\n", "9" * 30, "0.5.5"])
        damaged = " ".join(t) if trial % 2 else text[: int(rng.integers(len(text)))]
        path.write_text(damaged)
        try:
            read_ntu_skeleton(path)
        except SkeletonFileError as e:
            assert type(e) is SkeletonFileError and "damaged.skeleton" in str(e)


# ---------------------------------------------------------------- NW-UCLA

def test_nwucla_round_trip_and_direct_joints(nwucla_small, tmp_path):
    for f in sorted(nwucla_small.glob("*.json"))[:10]:
        raw = np.asarray(json.loads(f.read_text())["skeletons"], np.float32)
        clip = read_nwucla(f)
        for v1, ntu in (("hip_centre", "spine_base"), ("spine", "spine_mid"), ("shoulder_centre", "spine_shoulder"),
                        ("left_wrist", "left_wrist"), ("right_knee", "right_knee"), ("left_foot", "left_foot")):
            assert np.array_equal(clip.joints[:, J[ntu]], raw[:, KINECT_V1_JOINTS.index(v1)])
        assert (clip.confidence[:, J["neck"]] == SYNTHESISED).all() and (clip.confidence[:, J["head"]] == 1).all()
        out = tmp_path / f.name
        write_nwucla(out, raw)
        back = read_nwucla(out)
        assert np.array_equal(back.joints, clip.joints) and back.action == clip.action and back.view == clip.view


def test_nwucla_in_the_convention_is_anatomically_right(nwucla_small):
    files = sorted(nwucla_small.glob("*.json"))
    assert len(files) == 60
    same_side, hand = [], []
    for f in files:
        j = read_nwucla(f).joints
        head_up = (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).mean()
        feet_down = ((j[:, J["left_foot"], 1] < j[:, J["spine_base"], 1])
                     & (j[:, J["right_foot"], 1] < j[:, J["spine_base"], 1])).mean()
        assert head_up >= 0.95 and feet_down >= 0.95, (f.name, head_up, feet_down)
        same_side.append(left_right_consistent(j))
        hand.append(handedness(j) > 0)
    assert np.concatenate(same_side).mean() > 0.9
    assert np.concatenate(hand).mean() > 0.8


def test_nwucla_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_text('{"skeletons": [\n[[0, 0, 0]],\n')
    with pytest.raises(SkeletonFileError) as exc:
        read_nwucla(path)
    _assert_file_error(exc, path, 3, r"invalid JSON")


# ---------------------------------------------------------------- BVH

def test_bvh_samples_parse_with_the_declared_frames_and_rate(bvh_dir):
    files = sorted(bvh_dir.glob("*.bvh"))
    assert len(files) == 3
    for f in files:
        m = read_bvh(f)
        declared = int(re.search(r"Frames:\s*(\d+)", f.read_text()).group(1))
        assert m.num_frames == declared and m.positions.shape == (declared, 27, 3)
        assert m.fps == pytest.approx(30.0, rel=1e-4)
        assert m.names[:3] == ("joint_Root", "Hips", "Spine") and "Toes_R_End" in m.names
        assert sum(len(c) for c in m.channels) == m.motion.shape[1] == 22 * 6


def test_bvh_forward_kinematics_keeps_bones_rigid(bvh_dir):
    for f in sorted(bvh_dir.glob("*.bvh")):
        m = read_bvh(f)
        for j, p in enumerate(m.parents):
            if p <= 0:  # the root's child (Hips) carries the global translation
                continue
            length = np.linalg.norm(m.positions[:, j] - m.positions[:, p], axis=-1)
            assert length.std() < 0.05, (f.name, m.names[j])
            assert length.mean() == pytest.approx(np.linalg.norm(m.offsets[j]), abs=0.05)


TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
1 2 3 0 0 0 90 0 0
1 2 3 0 0 90 0 0 0
0 0 0 0 0 0 90 90 0
"""


def test_bvh_forward_kinematics_by_hand(tmp_path):
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH)
    m = read_bvh(path)
    assert m.names == ("Hips", "Arm", "Arm_End") and m.parents == (-1, 0, 1) and m.fps == pytest.approx(25)
    p = m.positions
    # Frame 0: the arm turns 90 degrees about z, so its end site (0, 5, 0) points along -x.
    assert np.allclose(p[0], [[1, 2, 3], [11, 2, 3], [6, 2, 3]], atol=1e-5)
    # Frame 1: the root turns 90 degrees about y, taking the arm's +x offset to -z.
    assert np.allclose(p[1], [[1, 2, 3], [1, 2, -7], [1, 7, -7]], atol=1e-5)
    # Frame 2: Z then X as listed, i.e. Rz @ Rx: (0, 5, 0) -> (0, 0, 5) (the other order would give (-5, 0, 0)).
    assert np.allclose(p[2, 2], [10, 0, 5], atol=1e-5)


def test_bvh_round_trip_is_lossless(bvh_dir, tmp_path):
    for f in sorted(bvh_dir.glob("*.bvh")):
        m = read_bvh(f)
        write_bvh(m, tmp_path / f.name)
        back = read_bvh(tmp_path / f.name)
        assert back.names == m.names and back.parents == m.parents and back.channels == m.channels
        assert np.array_equal(back.motion, m.motion) and np.array_equal(back.positions, m.positions)


def test_bvh_in_the_convention(bvh_dir):
    for f in sorted(bvh_dir.glob("*.bvh")):
        m = read_bvh(f)
        j, c = bvh_to_ntu(m)
        assert j.shape == (m.num_frames, 25, 3) and c.shape == (m.num_frames, 25)
        assert (j[:, J["head"], 1] > j[:, J["spine_base"], 1]).all()
        assert (j[:, [J["left_foot"], J["right_foot"]], 1] < j[:, [J["spine_base"]], 1]).all()
        height = j[0, J["head"], 1] - j[0, J["left_foot"], 1]
        assert 1.3 < height < 1.9, "centimetres became metres"
        assert (handedness(j) > 0).mean() > 0.8, "Shoulder_L is the subject's left"
        assert (forward_direction(j)[:, 2] < 0).mean() > 0.9, "performers facing +Z face the virtual camera"
        assert left_right_consistent(j).all()
        spine = np.linalg.norm(j[:, J["spine_shoulder"]] - j[:, J["spine_base"]], axis=-1)
        assert 0.35 < spine.mean() < 0.5
        small, _ = bvh_to_ntu(m, scale=0.001)
        assert np.allclose(small, j / 10, atol=1e-6)
    walk = read_bvh(bvh_dir / "dataset-1_walk_normal_001.bvh")
    _, c = bvh_to_ntu(walk)  # its end sites have zero length: head and hands are built from neighbours
    assert (c[:, J["head"]] == SYNTHESISED).all() and (c[:, J["left_wrist"]] == 1).all()
    _, c = bvh_to_ntu(read_bvh(bvh_dir / "dataset-1_bow_normal_001.bvh"))
    assert (c[:, J["head"]] == 1).all() and (c[:, J["left_hand_tip"]] == SYNTHESISED).all()


@pytest.mark.parametrize("case,line,words", [
    ("no_motion", None, r"no MOTION section"),
    ("not_bvh", 1, r"not a BVH file"),
    ("bad_offset", 4, r"expected an offset \(a number\), found 'zero'"),
    ("bad_channel", 9, r"unknown channel 'Wrotation'"),
    ("unclosed", 14, r"hierarchy ends early"),
    ("frame_values", 19, r"frame line has 8 values, the hierarchy has 9 channels"),
    ("frame_count", 20, r"'Frames: 3' but the file has 2 frame lines"),
    ("frame_number", 20, r"'abc' is not a number"),
    ("frames_header", 17, r"expected 'Frames: \.\.\.'"),
])
def test_bvh_malformed_files_name_file_line_and_problem(tmp_path, case, line, words):
    lines = TINY_BVH.splitlines()
    if case == "no_motion":
        lines = lines[:15]
    elif case == "not_bvh":
        lines[0] = '{"skeletons": []}'
    elif case == "bad_offset":
        lines[3] = "  OFFSET zero 0 0"
    elif case == "bad_channel":
        lines[8] = "    CHANNELS 3 Zrotation Wrotation Yrotation"
    elif case == "unclosed":
        del lines[13]
    elif case == "frame_values":
        lines[18] = "1 2 3 0 0 0 90 0"
    elif case == "frame_count":
        del lines[19]
    elif case == "frame_number":
        lines[19] = "0 0 0 0 0 0 90 abc 0"
    elif case == "frames_header":
        lines[16] = "Frame count: 3"
    path = tmp_path / "broken.bvh"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkeletonFileError) as exc:
        read_bvh(path)
    _assert_file_error(exc, path, line, words)


def test_bvh_random_damage_only_ever_raises_skeleton_file_error(bvh_dir, tmp_path):
    text = (bvh_dir / "dataset-1_bow_normal_001.bvh").read_text()
    rng = np.random.default_rng(2)
    path = tmp_path / "damaged.bvh"
    words = text.split(" ")
    for trial in range(30):
        if trial % 2:
            w = list(words)
            for _ in range(3):
                w[int(rng.integers(len(w)))] = rng.choice(["}", "{", "JOINT", "End", "x", "7", "CHANNELS", ""])
            path.write_text(" ".join(w))
        else:
            path.write_text(text[: int(rng.integers(len(text)))])
        try:
            read_bvh(path)
        except SkeletonFileError as e:
            assert type(e) is SkeletonFileError and "damaged.bvh" in str(e)


# ---------------------------------------------------------------- PKU-MMD

def test_pkummd_round_trip_of_real_two_person_skeletons(ntu_dir, tmp_path):
    s = read_ntu_skeleton(ntu_dir / A058)
    path = tmp_path / "0002-M.txt"
    conf = s.confidence.copy()
    conf[1, 10:20] = 0.0  # the second person leaves for ten frames
    write_pkummd(s.joints, path, conf)
    rows = [ln.split() for ln in path.read_text().splitlines()]
    assert len(rows) == 70 and {len(r) for r in rows} == {150}
    clip = read_pkummd(path)
    assert clip.joints.shape == (2, 70, 25, 3) and clip.num_frames == 70
    assert clip.persons_per_frame[10:20].tolist() == [1] * 10 and (clip.persons_per_frame[20:] == 2).all()
    keep = conf > 0
    assert np.array_equal(clip.joints[keep], s.joints[keep])
    assert (clip.confidence[~keep] == 0).all() and (clip.confidence[keep] == 1).all()
    # Person 1's first joint comes first on a line, person 2's right thumb last.
    assert float(rows[0][0]) == pytest.approx(s.joints[0, 0, J["spine_base"], 0])
    assert float(rows[0][-1]) == pytest.approx(s.joints[1, 0, J["right_thumb"], 2])
    one = tmp_path / "one.txt"
    write_pkummd(s.joints[0], one)
    assert (read_pkummd(one).persons_per_frame == 1).all()


@pytest.mark.parametrize("case,line,words", [
    ("short_line", 3, r"expected 150 numbers on a frame line, found 149"),
    ("non_numeric", 2, r"'x' is not a number"),
    ("empty", None, r"empty file"),
])
def test_pkummd_malformed_files_name_file_line_and_problem(tmp_path, case, line, words):
    row = " ".join(["0.5"] * 150)
    lines = [row, row, row, row]
    if case == "short_line":
        lines[2] = " ".join(["0.5"] * 149)
    elif case == "non_numeric":
        lines[1] = "x " + " ".join(["0.5"] * 149)
    elif case == "empty":
        lines = ["", "  "]
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkeletonFileError) as exc:
        read_pkummd(path)
    _assert_file_error(exc, path, line, words)
