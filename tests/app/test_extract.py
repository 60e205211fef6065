"""``ms2l extract`` on real video (kept short for CI)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from app.cli import extract
from app.errors import USER_ERRORS
from ms2l.cli import run
from app.live.extract import extract_video
from pose_adapters import mirror


def _run(argv: list[str]) -> int:
    """Run the extract command through its own parser (what ``ms2l`` registers)."""
    p = argparse.ArgumentParser(prog="ms2l")
    extract.add_commands(p.add_subparsers(dest="command", required=True))
    a = p.parse_args(argv)
    return run(a, USER_ERRORS)  # as `ms2l` runs it: bad input is exit 2 with one line


def test_ms2l_registers_extract():
    from app.cli import build_parser

    a = build_parser().parse_args(["extract", "v.avi", "--out", "x.npz", "--mirrored"])
    assert a.func is extract.cmd_extract and a.mirrored and a.adapter == "mediapipe"


def test_extract_writes_documented_arrays_and_summary(videos_dir, tmp_path, capsys):
    out = tmp_path / "c.npz"
    rc = _run(["extract", str(videos_dir / "calisthenics-3people.avi"), "--out", str(out), "--max-frames", "40",
               "--quiet"])
    assert rc == 0
    data = np.load(out)
    assert data["joints"].shape == (40, 25, 3) and data["joints"].dtype == np.float32
    assert data["confidence"].shape == (40, 25) and data["timestamps"].shape == (40,)
    assert data["image_points"].shape == (40, 25, 2)
    assert str(data["adapter"]) == "mediapipe_world" and not bool(data["mirrored"])
    # 10 fps video: timestamps in seconds, evenly spaced.
    assert data["timestamps"][0] == pytest.approx(0.0)
    assert np.allclose(np.diff(data["timestamps"]), 0.1, atol=1e-3)
    person = (data["confidence"] > 0).any(axis=1)
    assert person.mean() > 0.75
    assert (data["joints"][~person] == 0).all()
    assert ((data["confidence"] >= 0) & (data["confidence"] <= 1)).all()
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == json.loads(out.with_suffix(".json").read_text())
    assert summary["frames"] == 40 and summary["frames_with_person"] == int(person.sum())
    assert summary["fps"] == pytest.approx(10.0) and summary["size"] == [384, 288]
    assert summary["shapes"]["joints"] == [40, 25, 3]


def test_extract_mirrored_flag_mirrors_the_skeletons(videos_dir, tmp_path):
    video = str(videos_dir / "calisthenics-3people.avi")
    assert _run(["extract", video, "--out", str(tmp_path / "a.npz"), "--max-frames", "12", "--quiet"]) == 0
    assert _run(["extract", video, "--out", str(tmp_path / "b"), "--max-frames", "12", "--quiet", "--mirrored"]) == 0
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert bool(b["mirrored"])
    expected_joints, expected_conf = mirror(a["joints"], a["confidence"])
    assert np.allclose(b["joints"], expected_joints, atol=1e-6)
    assert np.array_equal(b["confidence"], expected_conf)


def test_extract_missing_and_corrupt_videos_fail_clearly(tmp_path, capsys):
    assert _run(["extract", str(tmp_path / "nope.avi"), "--out", str(tmp_path / "x.npz"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert _run(["extract", str(corrupt), "--out", str(tmp_path / "y.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ms2l extract: error:" in err and "corrupt.avi" in err
    assert not (tmp_path / "y.npz").exists()


def test_extract_missing_video_through_ms2l_main(tmp_path, capsys):
    from app.cli import main

    rc = main(["extract", str(tmp_path / "nope.avi"), "--out", str(tmp_path / "x.npz"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "nope.avi" in err and "does not exist" in err
    assert not (tmp_path / "x.npz").exists()


def test_timestamps_always_increase(videos_dir):
    # OpenCV reports position 0 for the last frames of this file; time must still move forward.
    result = extract_video(videos_dir / "ntu-two-person.avi")
    t = result["timestamps"]
    assert len(t) == 72
    assert np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(71 / 30, abs=0.1)  # 72 frames at 30 fps, give or take a frame
