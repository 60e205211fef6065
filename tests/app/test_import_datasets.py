"""``ms2l clips import`` of UTD-MHAD ``.mat``, SBU ``skeleton_pos.txt`` and BVH files (real data from ../shared)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.clips import Library
from pose_adapters.readers import SkeletonFileError, read_bvh, read_cmu_bvh, read_sbu, read_utd


def ms2l(*args: object) -> tuple[int, str, str]:
    """``ms2l ARGS`` in this process: (exit code, stdout, stderr)."""
    from fakes import run_in_process

    return run_in_process(main, *args)


def sbu_copy(sbu_dir: Path, dst: Path, take: str = "s01s02/05/001") -> Path:
    """A copy of one SBU take, kept in the dataset's pair/class/take folders."""
    f = dst / take / "skeleton_pos.txt"
    f.parent.mkdir(parents=True)
    shutil.copy(sbu_dir / take / "skeleton_pos.txt", f)
    return f


def travel(joints: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(joints, axis=0), axis=-1).sum())


def test_utd_mat_keeps_its_action_and_rate(utd_dir, tmp_path):
    lib = Library(tmp_path / "lib")
    [i] = lib.import_skeleton_file(utd_dir / "a3_s1_t1_skeleton.mat")
    clip, raw = lib.get(i), read_utd(utd_dir / "a3_s1_t1_skeleton.mat")
    assert clip.label == "right-hand wave" and clip.fps == 30 and clip.source == "utd-mhad:a3_s1_t1"
    np.testing.assert_array_equal(clip.joints, raw.joints)
    [j] = lib.import_skeleton_file(utd_dir / "a1_s1_t1_skeleton.mat", label="swipe")
    assert lib.get(j).label == "swipe"


def test_sbu_take_gives_a_pair_or_its_more_active_person(sbu_dir, tmp_path):
    lib = Library(tmp_path / "lib")
    f = sbu_dir / "s01s02" / "05" / "001" / "skeleton_pos.txt"
    [both] = lib.import_skeleton_file(f)  # an interaction: both people, one two-person clip
    pair, raw = lib.get(both), read_sbu(f)
    assert pair.persons == lib.info(both).persons == 2 and pair.source == "sbu:s01s02_05_001"
    np.testing.assert_array_equal(pair.joints, raw.joints)
    [i] = lib.import_skeleton_file(f, persons=1)
    clip = lib.get(i)
    assert clip.label == "shaking hands" and clip.fps == 15 and clip.frames == len(raw.frames) and clip.persons == 1
    p = [k for k in range(2) if np.array_equal(clip.joints, raw.joints[k])]
    assert p and clip.source == f"sbu:s01s02_05_001#p{p[0] + 1}"
    assert travel(raw.joints[p[0]]) >= travel(raw.joints[1 - p[0]])


def test_txt_files_are_told_apart_by_name_and_field_count(sbu_dir, ntu_dir, tmp_path):
    from pose_adapters.readers import read_ntu_skeleton, write_pkummd

    lib = Library(tmp_path / "lib")
    s = read_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    write_pkummd(s.joints, tmp_path / "0002-M.txt", s.confidence)  # 150 numbers a line: PKU-MMD
    [p] = lib.import_skeleton_file(tmp_path / "0002-M.txt")
    assert lib.get(p).source.startswith("pku-mmd:") and lib.get(p).label is None
    # 91 comma-separated fields under another name is SBU too, and SBU says what it needs
    other = sbu_copy(sbu_dir, tmp_path / "copy").rename(tmp_path / "copy" / "s01s02" / "05" / "001" / "take.txt")
    with pytest.raises(SkeletonFileError, match=r"s<PP>s<QQ>/<class>/<take>/skeleton_pos.txt"):
        lib.import_skeleton_file(other)
    assert len(lib) == 1


def test_bvh_files_cmu_and_others(cmu_dir, bvh_dir, tmp_path):
    lib = Library(tmp_path / "lib")
    take = cmu_dir / "subjects" / "007" / "007_03.bvh"
    [c] = lib.import_skeleton_file(take, label="walk")
    clip = lib.get(c)
    assert clip.frames == read_cmu_bvh(take).num_frames == read_bvh(take).num_frames - 1  # T-pose dropped
    assert clip.fps == pytest.approx(60, abs=0.01) and clip.label == "walk" and clip.source == "bvh:007_03"
    [b] = lib.import_skeleton_file(bvh_dir / "dataset-1_bow_normal_001.bvh")
    bow = lib.get(b)
    assert bow.fps == pytest.approx(30, abs=0.01) and bow.frames == 138 and bow.label is None
    # y up in the convention: the head above the spine base in every frame
    assert (bow.joints[:, 3, 1] > bow.joints[:, 0, 1]).all()


def test_cli_imports_every_new_format(utd_dir, sbu_dir, cmu_dir, tmp_path):
    code, out, err = ms2l("clips", "import", utd_dir / "a23_s2_t1_skeleton.mat",
                          sbu_dir / "s03s04" / "01" / "001" / "skeleton_pos.txt",
                          cmu_dir / "subjects" / "002" / "002_01.bvh", "--library", tmp_path / "lib")
    assert code == 0, err
    summary = json.loads(out)
    assert [c["label"] for c in summary["clips"]] == ["walking in place", "approaching", None]
    assert [round(c["fps"]) for c in summary["clips"]] == [30, 15, 60]


@pytest.mark.parametrize("kind", ["mat", "sbu_fields", "sbu_number", "bvh_cut", "bvh_no_body"])
def test_malformed_files_are_refused_and_leave_the_library_unchanged(kind, utd_dir, sbu_dir, bvh_dir, tmp_path):
    lib = tmp_path / "lib"
    assert ms2l("clips", "import", utd_dir / "a1_s1_t1_skeleton.mat", "--library", lib)[0] == 0
    if kind == "mat":
        bad = tmp_path / "a1_s1_t2_skeleton.mat"
        bad.write_bytes(b"MATLAB 5.0 MAT-file, but nothing after the header")
        why = "a1_s1_t2_skeleton.mat: not a readable MATLAB .mat file"
    elif kind.startswith("sbu"):
        bad = sbu_copy(sbu_dir, tmp_path / "sbu")
        lines = bad.read_text().splitlines()
        if kind == "sbu_fields":
            lines[2] = ",".join(lines[2].split(",")[:90])
            why = "skeleton_pos.txt, line 3: expected 91 comma-separated fields"
        else:
            fields = lines[4].split(",")
            lines[4] = ",".join(fields[:7] + ["oops"] + fields[8:])
            why = "skeleton_pos.txt, line 5: coordinate 7: 'oops' is not a number"
        bad.write_text("\n".join(lines) + "\n")
    elif kind == "bvh_cut":
        text = (bvh_dir / "dataset-1_walk_normal_001.bvh").read_text()
        bad = tmp_path / "walk.bvh"
        bad.write_text(text[: len(text) // 2])  # frame lines missing
        why = "walk.bvh, line"
    else:
        bad = tmp_path / "box.bvh"
        bad.write_text("HIERARCHY\nROOT Box\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n"
                       "  End Site\n  {\n    OFFSET 0 10 0\n  }\n}\nMOTION\nFrames: 2\nFrame Time: 0.033333\n"
                       "0 0 0\n0 1 0\n")
        why = "box.bvh: not a complete body: no joint for hips"
    code, out, err = ms2l("clips", "import", bad, "--library", lib)
    assert code == 2 and out == "" and why in err, err
    assert "Traceback" not in err
    with Library(lib, create=False) as library:
        assert len(library) == 1 and library.check() == []
