"""Property tests (hypothesis): adapters, normalisation and readers on generated input.

* any finite input gives finite output of the right shape, with confidences in [0, 1];
* any malformed file gives the reader's own :class:`SkeletonFileError` -- never an
  IndexError, a MemoryError or a hang -- or, where the damage left a legal file, output that is
  valid (the convention's shapes, finite, confidences in [0, 1]); acceptances are counted, reported
  in the "measured" summary, and must stay a minority (a reader that swallows damage accepts most).

Every example runs under a hypothesis deadline, and every test under pytest-timeout's limit (a
deadline only judges an example after it returns; a hang must fail the test, not stall CI).
Examples are kept few (``max_examples``) so the whole file runs in seconds on two busy cores;
``derandomize`` makes CI runs repeatable.
"""
from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pose_adapters import get_adapter, list_adapters, normalize
from pose_adapters.image import ImageLayoutAdapter
from pose_adapters.readers import (
    BvhMotion, SkeletonFileError, bvh_to_ntu, read_bvh, read_bvh_skeleton, read_cmu_bvh, read_ntu_skeleton,
    read_nwucla, read_pkummd, read_sbu, read_utd,
)

pytestmark = [
    # float32 extremes overflow inside numpy on the way (and are then marked missing): expected here.
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                               "ignore:invalid value encountered:RuntimeWarning"),
    pytest.mark.timeout(60),  # each test takes seconds; a reader that hangs fails here instead
]

FAST = settings(max_examples=40, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Finite float32 values over the whole range, extremes included (overflow is the usual bug).
FINITE = st.floats(width=32, allow_nan=False, allow_infinity=False)
#: Anything a broken pose stage might emit, NaN and infinities included.
ANY = st.floats(width=32)
UNIT = st.floats(0.0, 1.0, width=32)


def _arrays(shape, elements=FINITE):
    """float32 arrays of ``shape``: element by element, or dense random values scaled to a drawn
    magnitude (hypothesis alone rarely puts many different huge values in one array, and overflow
    in a weighted sum of joints needs them)."""
    raw = hnp.arrays(np.float32, shape, elements=elements)
    if elements is not FINITE:
        return raw
    scaled = st.tuples(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 1e3, 1e12, 1e30, 1e38, 3.4e38])).map(
        lambda a: np.clip(np.random.default_rng(a[0]).uniform(-1, 1, shape) * a[1], -3.4e38, 3.4e38)
        .astype(np.float32))
    return st.one_of(raw, scaled)


def _joints(s: int, c: int = 3, elements=FINITE, max_t: int = 6):
    return st.integers(1, max_t).flatmap(lambda t: _arrays((t, s, c), elements))


# ---------------------------------------------------------------- adapters

@pytest.mark.parametrize("name", sorted(list_adapters()))
@FAST
@given(data=st.data())
def test_adapter_finite_in_finite_out(name, data):
    a = get_adapter(name)
    c = data.draw(st.sampled_from([2, 3]))
    joints = data.draw(_joints(a.num_source_joints, c))
    conf = data.draw(hnp.arrays(np.float32, joints.shape[:2], elements=UNIT) | st.none())
    mirrored = data.draw(st.booleans())
    kw = {}
    if isinstance(a, ImageLayoutAdapter) and data.draw(st.booleans()):
        kw["image_size"] = (data.draw(st.integers(1, 4096)), data.draw(st.integers(1, 4096)))
    out, oc = a.to_ntu(joints, conf, mirrored=mirrored, **kw)
    T = len(joints)
    assert out.shape == (T, 25, 3) and oc.shape == (T, 25)
    assert out.dtype == np.float32 and oc.dtype == np.float32
    assert np.isfinite(out).all() and np.isfinite(oc).all()
    assert ((oc >= 0) & (oc <= 1)).all()
    assert (out[oc == 0] == 0).all(), "a missing joint carries no coordinates"


@pytest.mark.parametrize("name", ["kinect_v2", "mediapipe_world", "coco17"])
@FAST
@given(data=st.data())
def test_adapter_non_finite_values_become_missing_joints(name, data):
    a = get_adapter(name)
    joints = data.draw(_joints(a.num_source_joints, 3, elements=ANY))
    conf = data.draw(hnp.arrays(np.float32, joints.shape[:2], elements=ANY))
    out, oc = a.to_ntu(joints, conf)
    assert np.isfinite(out).all() and np.isfinite(oc).all() and ((oc >= 0) & (oc <= 1)).all()


# ---------------------------------------------------------------- normalisation

@FAST
@given(data=st.data())
def test_normalize_finite_in_finite_out(data):
    m = data.draw(st.integers(1, 3))
    t = data.draw(st.integers(1, 6))
    joints = data.draw(_arrays((m, t, 25, 3)))
    conf = data.draw(hnp.arrays(np.float32, (m, t, 25), elements=UNIT) | st.none())
    rotate = data.draw(st.sampled_from(["body", "yaw", "none"]))
    single = m == 1 and data.draw(st.booleans())
    out, valid = normalize(joints[0] if single else joints, None if conf is None else (conf[0] if single else conf),
                           rotate=rotate)
    assert out.shape == ((t, 25, 3) if single else (m, t, 25, 3)) and valid.shape == (t,)
    assert out.dtype == np.float32 and valid.dtype == bool
    assert np.isfinite(out).all()
    if conf is not None:
        missing = (conf[0] if single else conf) <= 0
        assert (out[missing] == 0).all()


@FAST
@given(joints=hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.just(25), st.just(3)), elements=ANY),
       conf=st.none() | st.floats(width=32))
def test_normalize_with_nan_and_inf_still_finite(joints, conf):
    c = None if conf is None else np.full(joints.shape[:2], conf, np.float32)
    out, valid = normalize(joints, c)
    assert np.isfinite(out).all() and valid.shape == (len(joints),)


@FAST
@given(joints=hnp.arrays(np.float32, st.tuples(st.integers(1, 8), st.just(25), st.just(3)),
                         elements=st.floats(-3.0, 3.0, width=32)))
def test_normalize_is_translation_invariant_for_ordinary_bodies(joints):
    """Body-centred: moving the camera never changes what the model sees (metre-scale input)."""
    shift = np.array([0.7, -0.2, 2.5], np.float32)
    a, va = normalize(joints, rotate="none")
    b, vb = normalize(joints + shift, rotate="none")
    assert np.array_equal(va, vb)
    np.testing.assert_allclose(a, b, atol=2e-3 * max(1.0, float(np.abs(a).max())))


# ---------------------------------------------------------------- readers: valid generated files

def _num(x: float) -> str:
    return repr(float(x))


@st.composite
def ntu_text(draw) -> str:
    """A well-formed NTU ``.skeleton`` text: 1-3 frames of 0-2 bodies."""
    frames = draw(st.integers(1, 3))
    xyz = st.floats(-5, 5, allow_nan=False, width=32)
    out = [str(frames)]
    for _ in range(frames):
        bodies = draw(st.integers(0, 2))
        out.append(str(bodies))
        for b in range(bodies):
            out.append(" ".join([str(72057594037930000 + b)] + ["0"] * 9))
            out.append("25")
            for _ in range(25):
                p = [draw(xyz) for _ in range(3)] + [0.0] * 8
                out.append(" ".join(_num(v) for v in p) + f" {draw(st.integers(0, 2))}")
    return "\n".join(out) + "\n"


@FAST
@given(text=ntu_text())
def test_ntu_reader_on_well_formed_files(tmp_path, text):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(text)
    s = read_ntu_skeleton(path)
    T = int(text.split("\n", 1)[0])
    assert s.num_frames == T and s.joints.shape[1:] == (T, 25, 3) and s.confidence.shape == s.joints.shape[:3]
    assert 1 <= s.joints.shape[0] <= 2 and np.isfinite(s.joints).all()
    assert set(np.unique(s.confidence)) <= {0.0, 0.5, 1.0}


# ---------------------------------------------------------------- readers: malformed text

#: Edits that break files the way disks, downloads and hand-editing do.
JUNK = ["", "x", "-1", "0", "25", "1e999", "nan", "inf", "99999999999999999999", "0.5.5", "\n", "\x00", "é", "{", "}",
        "JOINT", "End", "CHANNELS", "MOTION", "Frames:", "[", "]", ",", '"skeletons"']


@st.composite
def damaged(draw, text: str, sep: str = " ") -> str:
    """``text`` cut short, or with a few tokens (split at ``sep``) or lines replaced, deleted or duplicated."""
    how = draw(st.sampled_from(["cut", "tokens", "lines"]))
    if how == "cut":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "lines":
        lines = text.splitlines()
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.integers(0, max(0, len(lines) - 1)))
            op = draw(st.sampled_from(["drop", "dup", "junk"]))
            if not lines:
                break
            if op == "drop":
                del lines[k]
            elif op == "dup":
                lines.insert(k, lines[k])
            else:
                lines[k] = draw(st.sampled_from(JUNK))
        return "\n".join(lines)
    words = text.split(sep)
    for _ in range(draw(st.integers(1, 4))):
        words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(JUNK))
    return sep.join(words)


@st.composite
def damaged_bytes(draw, data: bytes) -> bytes:
    """``data`` cut short, or with a few bytes overwritten (a bad sector, a broken download)."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


NTU_SAMPLE = ("2\n1\n72057594037930000 0 0 0 0 0 0 0 0 2\n25\n" + "0.1 0.2 3.0 0 0 0 0 0 0 0 0 2\n" * 25
              + "0\n")

BVH_SAMPLE = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 90 0 0 0 0 0 0 0
1 90 0 5 0 0 0 10 0
"""

PKU_SAMPLE = (" ".join(["0.5"] * 150) + "\n") * 3

#: SBU Kinect Interaction: frame number, then 2 persons x 15 joints x 3 normalised coordinates.
SBU_SAMPLE = "".join(",".join([str(t)] + ["0.5"] * 90) + "\n" for t in range(1, 4))
SBU_PATH = Path("s01s02") / "01" / "001" / "skeleton_pos.txt"

#: A CMU take as converted for Character Creator (CC_Base_* joints, centimetres, Y up): 3 frames standing.
_CC = [("Hip", None, "0 100 0"), ("Spine02", "Hip", "0 25 0"), ("NeckTwist01", "Spine02", "0 25 0"),
       ("Head", "NeckTwist01", "0 8 0"), ("L_Upperarm", "Spine02", "18 20 0"), ("L_Forearm", "L_Upperarm", "28 0 0"),
       ("L_Hand", "L_Forearm", "26 0 0"), ("R_Upperarm", "Spine02", "-18 20 0"),
       ("R_Forearm", "R_Upperarm", "-28 0 0"), ("R_Hand", "R_Forearm", "-26 0 0"), ("L_Thigh", "Hip", "10 -5 0"),
       ("L_Calf", "L_Thigh", "0 -45 0"), ("L_Foot", "L_Calf", "0 -42 0"), ("L_ToeBase", "L_Foot", "0 -8 14"),
       ("R_Thigh", "Hip", "-10 -5 0"), ("R_Calf", "R_Thigh", "0 -45 0"), ("R_Foot", "R_Calf", "0 -42 0"),
       ("R_ToeBase", "R_Foot", "0 -8 14")]


def _cc_text() -> str:
    out = ["HIERARCHY"]

    def emit(name: str, parent: str | None, offset: str) -> None:
        out.extend([f"{'ROOT' if parent is None else 'JOINT'} CC_Base_{name}", "{", f"OFFSET {offset}",
                    "CHANNELS " + ("6 Xposition Yposition Zposition " if parent is None else "3 ")
                    + "Zrotation Xrotation Yrotation"])
        kids = [c for c in _CC if c[1] == name]
        for kid in kids:
            emit(*kid)
        if not kids:
            out.extend(["End Site", "{", "OFFSET 0 1 0", "}"])
        out.append("}")

    emit(*_CC[0])
    rows = [" ".join(["200", "100", str(2 * t), "0", "0", "0"] + ["0"] * (3 * (len(_CC) - 1))) for t in range(3)]
    return "\n".join(out + ["MOTION", "Frames: 3", "Frame Time: 0.016667", *rows]) + "\n"


CMU_SAMPLE = _cc_text()


def _utd_bytes() -> bytes:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {"d_skel": np.random.default_rng(0).uniform(-1, 3, (20, 3, 4))})
    return buf.getvalue()


UTD_SAMPLE = _utd_bytes()


def _valid_output(result) -> None:
    """What a reader returned for a file it accepted is usable: joints ``[..., T, 25, 3]`` float32 and
    finite, confidences of the same frames in [0, 1]."""
    if isinstance(result, tuple):  # read_bvh_skeleton: (motion, joints, confidence)
        result, joints, conf = result
    elif isinstance(result, BvhMotion):
        joints, conf = bvh_to_ntu(result, up="auto")  # what an import makes of it
    else:
        joints, conf = result.joints, result.confidence
    if isinstance(result, BvhMotion):
        assert result.positions.shape == (result.num_frames, len(result.names), 3)
        assert np.isfinite(result.positions).all() and np.isfinite(result.motion).all()
    assert joints.dtype == np.float32 and joints.ndim in (3, 4) and joints.shape[-2:] == (25, 3)
    assert conf.shape == joints.shape[:-1]
    assert np.isfinite(joints).all() and np.isfinite(conf).all() and ((conf >= 0) & (conf <= 1)).all()


@pytest.fixture
def tally(request, report):
    """Counts a fuzz test's examples and the damaged files its reader accepted; reported, and bounded."""
    counts: Counter = Counter()
    yield counts
    report(f"{request.node.name}: {counts['accepted']} of {counts['examples']} damaged files accepted "
           f"(output checked valid)")
    if not counts["any_share"]:
        assert counts["accepted"] <= counts["examples"] / 2, "the reader accepts most damaged files"


def _read_or_file_error(reader, path: Path, text: str | bytes, tally: Counter) -> None:
    """The reader either raises exactly SkeletonFileError naming the file, or returns valid output."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    tally["examples"] += 1
    try:
        result = reader(path)
    except SkeletonFileError as e:
        assert path.name in str(e)
        return
    tally["accepted"] += 1
    _valid_output(result)


@FAST
@given(text=damaged(NTU_SAMPLE))
def test_ntu_damaged_text_gives_skeleton_file_error(tmp_path, tally, text):
    _read_or_file_error(read_ntu_skeleton, tmp_path / "S001C001P001R001A001.skeleton", text, tally)


@FAST
@given(text=ntu_text().flatmap(damaged))
def test_ntu_damaged_generated_files_give_skeleton_file_error(tmp_path, tally, text):
    _read_or_file_error(read_ntu_skeleton, tmp_path / "S001C001P001R001A001.skeleton", text, tally)


@FAST
@given(text=damaged(BVH_SAMPLE))
def test_bvh_damaged_text_gives_skeleton_file_error(tmp_path, tally, text):
    _read_or_file_error(read_bvh, tmp_path / "take.bvh", text, tally)


@FAST
@given(text=damaged(PKU_SAMPLE))
def test_pkummd_damaged_text_gives_skeleton_file_error(tmp_path, tally, text):
    _read_or_file_error(read_pkummd, tmp_path / "0001-L.txt", text, tally)


@FAST
@given(text=damaged(SBU_SAMPLE, sep=","))
def test_sbu_damaged_text_gives_skeleton_file_error(tmp_path, tally, text):
    (tmp_path / SBU_PATH).parent.mkdir(parents=True, exist_ok=True)
    _read_or_file_error(read_sbu, tmp_path / SBU_PATH, text, tally)


def test_damaged_file_samples_are_read_whole(tmp_path):
    """The samples the fuzz tests damage are legal files (else every damaged one would be refused anyway)."""
    (tmp_path / SBU_PATH).parent.mkdir(parents=True)
    for reader, path, data in ((read_ntu_skeleton, "S001C001P001R001A001.skeleton", NTU_SAMPLE),
                               (read_bvh, "take.bvh", BVH_SAMPLE), (read_pkummd, "0001-L.txt", PKU_SAMPLE),
                               (read_sbu, SBU_PATH, SBU_SAMPLE), (read_cmu_bvh, "002_01.bvh", CMU_SAMPLE),
                               (read_bvh_skeleton, "002_01.bvh", CMU_SAMPLE), (read_utd, "a3_s1_t1_skeleton.mat", UTD_SAMPLE)):
        p = tmp_path / path
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        _valid_output(reader(p))


@FAST
@given(text=damaged(CMU_SAMPLE))
def test_cmu_damaged_bvh_gives_skeleton_file_error(tmp_path, tally, text):
    _read_or_file_error(read_cmu_bvh, tmp_path / "002_01.bvh", text, tally)
    _read_or_file_error(read_bvh_skeleton, tmp_path / "002_01.bvh", text, tally)  # the import's reading


@FAST
@given(data=damaged_bytes(UTD_SAMPLE))
def test_utd_damaged_mat_gives_skeleton_file_error(tmp_path, tally, data):
    tally["any_share"] = 1  # .mat has no checksum: an overwritten data byte is just another number (seen: 25-50 %)
    _read_or_file_error(read_utd, tmp_path / "a3_s1_t1_skeleton.mat", data, tally)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(width=32) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["skeletons", "label", "x"]),
                                                                      children, max_size=3),
    max_leaves=30,
)


@FAST
@given(doc=JSON_VALUES)
def test_nwucla_any_json_value_gives_clip_or_skeleton_file_error(tmp_path, tally, doc):
    _read_or_file_error(read_nwucla, tmp_path / "a01_s01_e01_v01.json", json.dumps(doc), tally)


@FAST
@given(skeletons=st.lists(st.lists(st.lists(st.floats(width=32) | st.integers(-3, 3), min_size=2, max_size=4),
                                   min_size=19, max_size=21), min_size=1, max_size=3),
       label=st.none() | st.integers(0, 3) | st.text(max_size=3))
def test_nwucla_near_miss_documents(tmp_path, tally, skeletons, label):
    """Almost-right documents: ragged frames, 19/21 joints, 2/4 coordinates, NaN, odd labels."""
    doc = {"file_name": "a01_s01_e01_v01", "skeletons": skeletons, "label": label}
    path = tmp_path / "a01_s01_e01_v01.json"
    _read_or_file_error(read_nwucla, path, json.dumps(doc), tally)


@FAST
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(lambda s: s.encode("utf-8")))
def test_every_reader_on_arbitrary_bytes(tmp_path, tally, raw):
    (tmp_path / SBU_PATH).parent.mkdir(parents=True, exist_ok=True)
    for reader, name in ((read_ntu_skeleton, "S001C001P001R001A001.skeleton"), (read_bvh, "take.bvh"),
                         (read_pkummd, "0001-L.txt"), (read_nwucla, "a01_s01_e01_v01.json"),
                         (read_sbu, SBU_PATH), (read_cmu_bvh, "002_01.bvh"), (read_bvh_skeleton, "002_01.bvh"),
                         (read_utd, "a3_s1_t1_skeleton.mat")):
        _read_or_file_error(reader, tmp_path / name, raw, tally)


# ---------------------------------------------------------------- explicit worst cases hypothesis rarely reaches

@pytest.mark.parametrize("reader,name,text", [
    # A header promising 10^12 frames must not allocate terabytes before noticing the file is short.
    (read_ntu_skeleton, "S001C001P001R001A001.skeleton", "1000000000000\n0\n"),
    (read_ntu_skeleton, "S001C001P001R001A001.skeleton", "3\n" + "9" * 40 + "\n"),
    # Nesting deeper than Python's recursion limit: an error, not a RecursionError.
    (read_nwucla, "a01_s01_e01_v01.json", "[" * 100_000 + "]" * 100_000),
    (read_nwucla, "a01_s01_e01_v01.json", '{"skeletons": ' + "[" * 5000 + "]" * 5000 + "}"),
    (read_bvh, "deep.bvh", "HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 0\n"
     + "JOINT j\n{\nOFFSET 0 0 0\nCHANNELS 0\n" * 5000 + "}\n" * 5001 + "MOTION\nFrames: 1\nFrame Time: 0.1\n\n"),
    (read_bvh, "huge.bvh", BVH_SAMPLE.replace("Frames: 2", "Frames: 1000000000000")),
])
def test_worst_case_headers_give_skeleton_file_error(tmp_path, reader, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SkeletonFileError):
        reader(path)


def test_nwucla_non_utf8_file_gives_skeleton_file_error(tmp_path):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_bytes(b'{"skeletons": [[[0.1, 0.2, \xff\xfe]]]}')
    with pytest.raises(SkeletonFileError, match="not a text file|UTF-8"):
        read_nwucla(path)
