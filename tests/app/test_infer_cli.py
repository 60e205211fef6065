"""``ms2l infer``: JSON lines per frame, events and an annotated video, on real video and on replayed skeletons."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.types import Skeleton
from app.live.sources import save_skeleton_clip
from fakes import body
from ms2l.checkpoint import ASSETS_DIR, DEFAULT_MODEL
from app.cli import main


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def model():
    """The shipped default model (tracked in git: a checkout without it is broken, not a reason to skip)."""
    assert (ASSETS_DIR / DEFAULT_MODEL).is_file(), f"{ASSETS_DIR / DEFAULT_MODEL} is missing from the checkout"
    return "default"


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_lines(lines, n, fps):
    """Every line well formed; returns how many carry predictions (whose probabilities were checked)."""
    assert len(lines) == n
    assert [d["frame"] for d in lines] == list(range(n))
    assert [d["t"] for d in lines] == pytest.approx([i / fps for i in range(n)], abs=1e-5)
    for d in lines:
        assert set(d) >= {"t", "frame", "person", "top", "action", "state"}
        assert isinstance(d["person"], bool)
        if d["top"]:
            ps = [x["p"] for x in d["top"]]
            assert all(0 <= p <= 1 for p in ps) and sum(ps) == pytest.approx(1, abs=1e-4)
            assert ps == sorted(ps, reverse=True)
        assert d["action"] is None or d["state"] == "action"
    return sum(bool(d["top"]) for d in lines)


def test_infer_on_a_real_video(videos_dir, model, tmp_path):
    out, events, video = tmp_path / "p.jsonl", tmp_path / "e.jsonl", tmp_path / "a.avi"
    rc = main(["infer", str(videos_dir / "calisthenics-3people.avi"), "--model", model, "--out", str(out),
               "--events", str(events), "--annotated", str(video), "--max-frames", "36", "--min-fill", "0.25",
               "--threshold", "0.0"])
    assert rc == 0
    lines = read_lines(out)
    check_lines(lines, 36, 10.0)
    assert sum(d["person"] for d in lines) > 18, "MediaPipe finds someone in most frames"
    assert any(d["top"] for d in lines), "the window filled and the model ran"
    assert any(d["action"] for d in lines)
    ev = read_lines(events)
    assert ev and ev[0]["kind"] == "start"
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 36
    assert cap.read()[1].shape == (288, 384, 3)


def test_infer_follows_three_people_with_its_defaults(videos_dir, model, tmp_path):
    # Issue 15's acceptance, on the first 60 frames: no --persons, no --pose-tiles (auto strips).
    out = tmp_path / "p.jsonl"
    assert main(["infer", str(videos_dir / "calisthenics-3people.avi"), "--model", model, "--out", str(out),
                 "--max-frames", "60"]) == 0
    lines = [d for d in read_lines(out) if not d.get("final")]
    assert len(lines) == 60
    late = lines[20:]  # after the switch to strips (frame 7 here) and the tracks' birth
    three = [d for d in late if len(d["persons"]) == 3]
    assert len(three) >= 0.8 * len(late), f"three persons in {len(three)} of {len(late)} frames"
    assert len({p["id"] for d in late for p in d["persons"]}) == 3, "stable ids: three in all"


def _clip(tmp_path, n=45, fps=30.0):
    skels = [Skeleton(t=i / fps, frame_index=i, joints=body(i / fps), confidence=np.ones(25, np.float32))
             if not 20 <= i < 24 else None for i in range(n)]
    return save_skeleton_clip(tmp_path / "clip.npz", skels, timestamps=[i / fps for i in range(n)])


def test_infer_on_a_skeleton_clip(tmp_path, model):
    clip = _clip(tmp_path)
    out, video = tmp_path / "p.jsonl", tmp_path / "a.mp4"
    assert main(["infer", str(clip), "--model", model, "--out", str(out), "--annotated", str(video),
                 "--min-fill", "0.3", "--top", "2"]) == 0
    lines = read_lines(out)
    assert len(lines) == 45 and [d["person"] for d in lines[19:25]] == [True, False, False, False, False, True]
    assert any(len(d["top"]) == 2 for d in lines)
    assert int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT)) == 45


def test_infer_realtime_writes_a_line_per_input_frame(tmp_path, model):
    # 3 s: the default model's window (64 frames at 15 fps) is 0.3 full after 1.3 s, so most lines
    # carry predictions and check_lines checks their probabilities.
    clip = _clip(tmp_path, n=90)
    out = tmp_path / "p.jsonl"
    assert main(["infer", str(clip), "--model", model, "--out", str(out), "--realtime", "--min-fill", "0.3"]) == 0
    lines = read_lines(out)
    assert [d["frame"] for d in lines] == list(range(90))
    predicted = check_lines([{k: v for k, v in d.items() if k != "dropped"} for d in lines], 90, 30.0)
    assert predicted >= 30, f"only {predicted} of 90 lines carry predictions"


def test_infer_errors(tmp_path, model, capsys):
    assert main(["infer", str(tmp_path / "missing.avi"), "--model", model, "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["infer", "camera:9", "--model", model, "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "cannot open camera 9" in capsys.readouterr().err
    clip = _clip(tmp_path, n=5)
    assert main(["infer", str(clip), "--model", str(tmp_path / "nope.safetensors"), "--out",
                 str(tmp_path / "p.jsonl")]) == 2


@pytest.mark.parametrize("realtime", [False, True])
def test_a_clip_too_short_for_the_window_gets_one_final_decision(tmp_path, model, realtime):
    """The default model first decides after 18 frames (1.2 s); a 0.8 s clip played once gets
    one more line for its last frame, marked final, with the state the model gives."""
    fps, n = 30.0, 24
    skels = [Skeleton(t=i / fps, frame_index=i, joints=body(i / fps), confidence=np.ones(25, np.float32))
             for i in range(n)]
    clip = save_skeleton_clip(tmp_path / "short.npz", skels, timestamps=[i / fps for i in range(n)])
    out = tmp_path / "p.jsonl"
    assert main(["infer", str(clip), "--model", model, "--out", str(out), "--top", "3"]
                + (["--realtime"] if realtime else [])) == 0
    lines = read_lines(out)
    frames = [d for d in lines if not d.get("final")]
    assert len(frames) >= (n if not realtime else 1) and all(not d["top"] for d in frames)  # never a full window
    final = [d for d in lines if d.get("final")]
    assert len(final) == 1 and lines[-1] is final[0] and final[0]["frame"] == n - 1
    assert len(final[0]["top"]) == 3 and final[0]["state"] in ("action", "unknown", "none", "still")


@pytest.mark.parametrize("state", ["none", "unknown", "still", "background", "no_person", "warming_up"])
def test_the_annotated_video_writes_every_state_in_words(state):
    # The overlay once knew only three states: a model saying "none of these" broke --annotated.
    from app.live.draw import draw_overlay
    from app.types import STATE_TEXT, ActionState

    labels = ("a", "nothing")
    st = ActionState(0.0, state, "nothing" if state == "background" else None, np.array([0.5, 0.5], np.float32), labels)
    out = draw_overlay(np.zeros((120, 160, 3), np.uint8), None, st)
    assert out.shape == (120, 160, 3) and out.any(), "the words were drawn"
    assert state in STATE_TEXT
