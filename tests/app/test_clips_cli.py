"""``ms2l clips`` and ``ms2l train|evaluate --library`` (real subprocesses, real data, tiny encoders)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ms2l.checkpoint import load_model, save_model
from app.cli import build_parser, main
from ms2l.config import ModelConfig
from ms2l.model import MS2L

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MS2L_USER_MODELS": "/nonexistent-registry"}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def ms2l(*args, check=True) -> Result:
    """Run ``ms2l ARGS`` in this process (torch is imported once), capturing its output."""
    from fakes import run_in_process

    r = Result(*run_in_process(main, *args))
    if check:
        assert r.returncode == 0, r.stderr[-2000:]
    return r


def ms2l_process(*args) -> subprocess.CompletedProcess:
    """Run ``ms2l ARGS`` (``python -m app.cli``) as a real process, as a user would."""
    r = subprocess.run([sys.executable, "-m", "app.cli", *map(str, args)], capture_output=True, text=True, timeout=600,
                       env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(MS2L(ModelConfig(hidden=32, layers=1, window=32)),
                      tmp_path_factory.mktemp("enc") / "enc.safetensors", {"kind": "encoder"})


def test_help_lists_library_options(capsys):
    for cmd in ("train", "evaluate"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])
        out = capsys.readouterr().out
        assert "--library" in out and "--data" in out
    with pytest.raises(SystemExit):
        build_parser().parse_args(["clips", "import", "--help"])
    assert "--label" in capsys.readouterr().out


def test_data_still_required_without_library(tmp_path):
    r = ms2l("train", "--strategy", "scratch", "--out", tmp_path / "m", check=False)
    assert r.returncode == 2 and "--data" in r.stderr
    r = ms2l("evaluate", "--model", "default", check=False)
    assert r.returncode == 2 and "--data" in r.stderr


def test_library_training_refuses_calibration_by_person(tmp_path):
    r = ms2l("train", "--library", tmp_path / "lib", "--strategy", "finetune", "--calibrate-by", "subject",
             "--out", tmp_path / "m", check=False)
    assert r.returncode != 0 and "does not record that" in r.stderr and not (tmp_path / "m.safetensors").exists()


def test_clips_commands_train_and_evaluate(tmp_path, nwucla_dir, ntu_dir, tiny_encoder):
    lib = tmp_path / "lib"
    files = [f for a in ("01", "04", "05") for f in sorted(nwucla_dir.glob(f"a{a}_s01_*_v0[12].json"))[:3]]
    out = json.loads(ms2l("clips", "import", *files, "--library", lib).stdout)
    out_labels = {"pick up with one hand": 3, "sit down": 3, "walk around": 3}
    assert len(out["ids"]) == 9 and out["labels"] == out_labels
    out = json.loads(ms2l("clips", "import", ntu_dir / "S001C001P001R001A011.skeleton", "--label", "reading",
                          "--library", lib).stdout)
    ntu_id = out["ids"][0]
    listing = json.loads(ms2l("clips", "list", "--json", "--library", lib).stdout)
    assert len(listing["clips"]) == 10 and listing["labels"]["reading"] == 1
    assert "reading" in ms2l("clips", "list", "--library", lib).stdout

    r = json.loads(ms2l("clips", "relabel", ntu_id, "--label", "read a book", "--library", lib).stdout)
    assert r["changed"] == 1 and r["labels"]["read a book"] == 1 and "reading" not in r["labels"]
    listing = json.loads(ms2l("clips", "list", "--json", "--library", lib).stdout)
    assert {c["id"]: c["label"] for c in listing["clips"]}[ntu_id] == "read a book"
    assert listing["labels"] == {**out_labels, "read a book": 1}  # only that clip changed
    r = json.loads(ms2l("clips", "trim", ntu_id, "--start", "5", "--end", "-5", "--library", lib).stdout)
    assert r["frames"] > 0
    d = json.loads(ms2l("clips", "delete", ntu_id, "--library", lib).stdout)
    assert d["deleted"] == [ntu_id] and "--undo" in d["undo"]
    assert "read a book" not in json.loads(ms2l("clips", "list", "--json", "--library", lib).stdout)["labels"]
    assert json.loads(ms2l("clips", "delete", ntu_id, "--undo", "--library", lib).stdout)["restored"] == [ntu_id]
    assert ms2l("clips", "delete", 999, "--library", lib, check=False).returncode == 1
    ms2l("clips", "delete", ntu_id, "--library", lib)
    assert json.loads(ms2l("clips", "purge", "--library", lib).stdout)["purged"] == 1

    exp = json.loads(ms2l("clips", "export", tmp_path / "ds", "--library", lib).stdout)
    assert exp["clips"] == 9 and (tmp_path / "ds" / "index.csv").exists()
    r = ms2l("clips", "export", tmp_path / "ds", "--library", lib, check=False)
    assert r.returncode == 2 and "not empty" in r.stderr
    out = json.loads(ms2l("clips", "import", tmp_path / "ds", "--library", tmp_path / "lib2").stdout)
    assert len(out["ids"]) == 9

    model = tmp_path / "mine.safetensors"
    r = ms2l("train", "--library", lib, "--strategy", "finetune", "--encoder", tiny_encoder, "--epochs", "2",
             "--cv", "never",  # 3 clips per action: the hold-out path (cross-validation: test_finetune_fewshot.py)
             "--out", model, "--device", "cpu")
    assert "model written to" in r.stderr
    summary = json.loads(model.with_suffix(".json").read_text())
    assert summary["validation_clips"] == 3 and summary["clips"] == 6 and summary["validation"]["n"] == 3
    m, meta = load_model(model)
    assert set(m.config.labels) == {"pick up with one hand", "sit down", "walk around"}
    assert model.with_suffix(".md").exists()
    ev = json.loads(ms2l("evaluate", "--model", model, "--library", lib, "--json", "--device", "cpu").stdout)
    assert ev["n"] == 9 and ev["split"] == "library" and len(ev["confusion"]) == 3
    r = ms2l("train", "--library", lib, "--strategy", "scratch", "--out", model, check=False)
    assert r.returncode == 2 and "not available with --library" in r.stderr
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    r = ms2l("clips", "import", tmp_path / "broken.mp4", "--label", "x", "--library", lib, check=False)
    assert r.returncode == 2 and "cannot open" in r.stderr
    r = ms2l("clips", "list", "--library", tmp_path / "none", check=False)
    assert r.returncode == 2 and "no clip library" in r.stderr


def _named(preds: Path, after_s: float) -> list[str]:
    """The top label of every line whose window lies wholly after ``after_s`` (the held-out part)."""
    lines = [json.loads(s) for s in preds.read_text().splitlines()]
    return [ln["top"][0]["label"] for ln in lines if ln["top"] and ln["t"] >= after_s]


def test_acceptance_videos_to_infer(tmp_path, videos_dir):
    """Import stretches of real videos, train on the default encoder, and `ms2l infer` names the action of
    each video in a stretch it was not trained on (a model that says one label for everything fails)."""
    lib = tmp_path / "lib"
    cal, ntu = videos_dir / "calisthenics-3people.avi", videos_dir / "ntu-two-person.avi"
    # Trained on: calisthenics 0-12 s (of 39 s), the two people's first 1.2 s (of 2.4 s).
    for start, end in ((0, 4), (4, 8), (8, 12)):
        ms2l("clips", "import", cal, "--label", "calisthenics", "--start", start, "--end", end, "--max-frames", 125,
             "--quiet", "--library", lib)
    for start, end in ((0, 0.4), (0.4, 0.8), (0.8, 1.2)):
        ms2l("clips", "import", ntu, "--label", "two people talking", "--mirrored", "--start", start, "--end", end,
             "--quiet", "--library", lib)
    listing = json.loads(ms2l("clips", "list", "--json", "--library", lib).stdout)
    assert listing["labels"] == {"calisthenics": 3, "two people talking": 3}
    assert max(c["duration_s"] for c in listing["clips"] if c["label"] == "calisthenics") <= 4.0
    model = tmp_path / "mine.safetensors"
    ms2l("train", "--library", lib, "--strategy", "linear", "--encoder", "default", "--val-fraction", "0",
         "--out", model, "--device", "cpu")
    window_s = load_model(model)[0].config.window / load_model(model)[0].config.fps  # 64 frames at 15 fps
    # Held out: calisthenics from 12 s on; only lines whose whole window is after 12 s are judged.
    preds = tmp_path / "preds.jsonl"
    ms2l_process("infer", cal, "--model", model, "--out", preds, "--max-frames", 200, "--device", "cpu",
                 "--min-fill", "0.5")
    named = _named(preds, 12 + window_s)
    assert len(named) >= 25 and set(named) <= {"calisthenics", "two people talking"}
    assert named.count("calisthenics") >= 0.8 * len(named), named  # (seen: all of them)
    # Held out: the two people after 1.2 s, through a 0.8 s window (12 frames at 15 fps), judged from 2.0 s.
    preds = tmp_path / "preds-ntu.jsonl"
    ms2l("infer", ntu, "--model", model, "--out", preds, "--mirrored", "--window", 12, "--device", "cpu")
    named = _named(preds, 1.2 + 12 / 15)
    assert len(named) >= 8, named
    assert named.count("two people talking") >= 2 / 3 * len(named), named  # (seen: 10-12 of 12)
