"""Crash safety of the clip library, with real processes killed by SIGKILL.

A recording session, a dataset import and a fine-tuning run are each killed at a moment of the
test's choosing; afterwards the database passes SQLite's integrity check and the library's own
check, every clip saved before the crash reads back bit for bit, every clip the dying process
had acknowledged is there and whole, and the library still takes new clips.  Two processes (the
window recording, the command line importing and editing) then use one library at once.

The children talk to the parent through stdout lines printed only after a commit returned.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from app.clips import Library

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parents[1]  # tests/, for fakes.py
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}


def take(k: int, T: int = 900) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Recording number ``k``: a deterministic clip (the parent regenerates it to compare)."""
    rng = np.random.default_rng(k)
    j = rng.normal(0, 0.3, size=(T, 25, 3)).astype(np.float32) + np.float32(k)
    c = np.ones((T, 25), np.float32)
    c[::17, 3] = 0.5
    return j, c, 12.5 + np.arange(T) / 30.0


def snapshot(lib: Library) -> dict[int, tuple]:
    """Every clip's arrays and fields, to compare after the crash."""
    out = {}
    for info in lib.list() + lib.list(deleted=True):
        c = lib.get(info.id)
        out[c.id] = (c.label, c.joints.tobytes(), c.confidence.tobytes(), c.timestamps.tobytes(), c.fps, c.source,
                     c.preview)
    return out


def assert_intact(lib_dir: Path, before: dict[int, tuple]) -> Library:
    """The library opens, checks clean, and holds every clip of ``before`` unchanged."""
    lib = Library(lib_dir, create=False)
    assert lib.check() == []
    now = snapshot(lib)
    for cid, fields in before.items():
        assert now.get(cid) == fields, f"clip {cid} saved before the crash changed or vanished"
    return lib


def seeded_library(lib_dir: Path) -> dict[int, tuple]:
    """A library with three clips from earlier sessions (one of them in the bin)."""
    with Library(lib_dir) as lib:
        for k in range(3):
            lib.add(*take(100 + k, T=60), label=f"earlier {k}", source="camera:0")
        lib.delete(2)
        return snapshot(lib)


def run_and_kill(code: str, args: list[str], ready, delay: float, timeout: float = 120) -> list[str]:
    """Start ``code``, read its lines until ``ready(lines)``, wait ``delay`` s, SIGKILL it; returns every line
    it printed (acknowledgements still in the pipe included)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while not ready(lines) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"child ended early: {proc.wait()} {proc.stderr.read()[-2000:]}")
            lines.append(line.strip())
        assert ready(lines), "child too slow"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        lines += [ln.strip() for ln in proc.stdout.read().splitlines()]  # printed before the kill, not yet read
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    return lines


# ---------------------------------------------------------------- recording

RECORDER = """
    import sys
    import numpy as np
    from app.clips import Library, make_preview
    from app.types import Skeleton
    from test_library_crash import EDGE, take
    try:  # the window's recorder (app.clips.recording, issue 6): a take of frames, trimmed to the person, saved
        from app.clips.recording import Take, trim_bounds
    except ImportError:
        Take = None
    lib = Library(sys.argv[1])
    image = np.full((240, 320, 3), 128, np.uint8)
    k = 0
    while True:  # take after take, as a user recording one action after another
        j, c, t = take(k)
        if Take is None:
            s, e = EDGE, len(t) - EDGE
            jj, cc, tt, preview = j[s:e], c[s:e], t[s:e], make_preview(image)
        else:
            rec = Take(source="camera:0")
            for i in range(len(t)):  # nobody in view for the first and last EDGE frames
                rec.add(t[i], Skeleton(t[i], i, j[i], c[i]) if EDGE <= i < len(t) - EDGE else None, image)
            s, e = trim_bounds(rec.seen)
            jj, cc, tt = rec.arrays(s, e)
            preview = make_preview(rec.preview(s, e))
        cid = lib.add(jj, cc, tt, label=f"action {k % 3}", source="camera:0", preview=preview)
        print(k, cid, flush=True)
        k += 1
"""
#: Frames without a person at each end of a recorded take (trimmed before saving).
EDGE = 5


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.011])
def test_sigkill_during_recording(tmp_path, delay):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    lines = run_and_kill(RECORDER, [str(lib_dir)], lambda ls: len(ls) >= 3, delay)
    acked = {int(cid): int(k) for k, cid in (ln.split() for ln in lines)}
    lib = assert_intact(lib_dir, before)
    ids = {i.id for i in lib.list()}
    assert set(acked) <= ids, "a take the recorder had saved is missing"
    assert len(ids - set(acked) - set(before)) <= 1, "at most the take being written when killed"
    for cid in ids - set(before):
        clip = lib.get(cid)
        k = acked.get(cid, max(acked.values()) + 1)  # the unacknowledged one is the next take, whole
        j, c, t = (a[EDGE:-EDGE] for a in take(k))
        np.testing.assert_array_equal(clip.joints, j)
        np.testing.assert_array_equal(clip.confidence, c)
        np.testing.assert_allclose(clip.timestamps, t - t[0])
        assert clip.label == f"action {k % 3}" and clip.preview[:2] == b"\xff\xd8"
    new = lib.add(*take(99, T=30), label="after the crash")  # still writable
    assert lib.get(new).frames == 30 and lib.check() == []
    lib.close()


# ---------------------------------------------------------------- import

IMPORTER = """
    import sys
    from app.clips import Library
    lib = Library(sys.argv[1])
    lib.import_folder(sys.argv[2], progress=lambda done, total: print(done, flush=True))
    print("finished", flush=True)
"""


def test_sigkill_during_import(tmp_path):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    src = Library(tmp_path / "other")
    for k in range(30):
        src.add(*take(k, T=1500), label=f"imported {k % 4}", source=f"other:{k}")
    src.export(tmp_path / "dataset")
    expected = {f"other:{k}": take(k, T=1500) for k in range(30)}
    lines = run_and_kill(IMPORTER, [str(lib_dir), str(tmp_path / "dataset")], lambda ls: len(ls) >= 4, 0.005)
    assert "finished" not in lines, "the import ended before the kill: make the dataset bigger"
    lib = assert_intact(lib_dir, before)
    imported = [i for i in lib.list() if i.id not in before]
    assert len(lines) <= len(imported) <= len(lines) + 1
    for info in imported:  # each clip is whole: all of it or none of it
        clip = lib.get(info.id)
        j, c, _ = expected[clip.source]
        np.testing.assert_array_equal(clip.joints, j)
        np.testing.assert_array_equal(clip.confidence, c)
    # Importing again completes (the crash left no lock behind).
    again = lib.import_folder(tmp_path / "dataset")
    assert len(again) == 30 and lib.check() == []
    lib.close()


# ---------------------------------------------------------------- fine-tuning

FINETUNER = """
    import sys
    import torch
    torch.set_num_threads(1)
    from app.finetune import FinetuneSpec, run_finetune
    spec = FinetuneSpec(labels=("wave", "squat"), strategy="joint", encoder=sys.argv[2], epochs=400,
                        val_fraction=0.0, device="cpu")
    def progress(ev):
        if ev.get("phase") == "train":
            print("epoch", ev.get("epoch"), flush=True)
    run_finetune(spec, sys.argv[1], out=sys.argv[3], progress=progress)
    print("finished", flush=True)
"""


def test_sigkill_during_finetuning(tmp_path):
    pytest.importorskip("app.finetune", reason="fine-tuning (issue 6) is not in this tree")
    import torch

    from fakes import body
    from ms2l.checkpoint import load_model, save_model
    from ms2l.config import ModelConfig
    from ms2l.model import MS2L

    torch.manual_seed(0)
    encoder = save_model(MS2L(ModelConfig(hidden=16, layers=1, window=16)), tmp_path / "enc.safetensors")
    lib_dir = tmp_path / "lib"
    with Library(lib_dir) as lib:
        for k in range(4):
            t = np.arange(45) / 30.0
            lib.add(np.stack([body(x, k) for x in t]), label="wave", source=f"camera:0 #{k}")
            sq = np.stack([body(0.0, k) for _ in t])
            sq[:, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20], 1] -= 0.3 * np.sin(np.pi * t)[:, None]
            lib.add(sq, label="squat", source=f"camera:0 #{k}")
        lib.add(np.stack([body(x, 9) for x in np.arange(30) / 30.0]), label=None)
        before = snapshot(lib)
    out = tmp_path / "models" / "mine.safetensors"
    lines = run_and_kill(FINETUNER, [str(lib_dir), str(encoder), str(out)], lambda ls: len(ls) >= 3, 0.05)
    assert "finished" not in lines
    lib = assert_intact(lib_dir, before)
    assert len(lib) == 9 and lib.labels() == {"squat": 4, "wave": 4}
    # No half-written model: either none, or one that loads (save_model writes a temporary, then renames).
    if out.exists():
        load_model(out)
    lib.add(np.stack([body(x) for x in np.arange(20) / 30.0]), label="wave")  # writable
    assert lib.check() == []
    lib.close()


# ---------------------------------------------------------------- two processes at once

WINDOW = """
    import sys
    from app.clips import Library
    from test_library_crash import take
    lib = Library(sys.argv[1])
    for k in range(12):  # the window records takes and relabels the last one now and then
        cid = lib.add(*take(200 + k, T=400), label="window", source="camera:0")
        if k % 4 == 3:
            lib.relabel(cid, "window, relabelled")
    print("done", flush=True)
"""

CLI = """
    import contextlib, io, json, sys
    from app.cli import main  # the real `ms2l clips ...` commands, in one process
    lib = ["--library", sys.argv[1]]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["clips", "import", sys.argv[2], "--quiet", *lib]) == 0
    ids = [str(i) for i in json.loads(out.getvalue().splitlines()[-1])["ids"]]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["clips", "delete", *ids[:3], *lib]) == 0
        assert main(["clips", "delete", "--undo", ids[0], *lib]) == 0
        assert main(["clips", "trim", ids[-1], "--end", "100", *lib]) == 0
    print("done", flush=True)
"""


def test_two_processes_using_one_library_at_once(tmp_path):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    src = Library(tmp_path / "other")
    for k in range(12):
        src.add(*take(300 + k, T=400), label="cli", source=f"dataset:{k}")
    src.export(tmp_path / "dataset")
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV)
             for code, args in ((WINDOW, [str(lib_dir)]), (CLI, [str(lib_dir), str(tmp_path / "dataset")]))]
    # The window records while the command line imports and edits; a third party reads all the while,
    # as the window's library view does.
    with Library(lib_dir) as reader:
        while any(p.poll() is None for p in procs):
            for info in reader.list()[-3:]:
                c = reader.get(info.id)  # (may have been trimmed since the listing: each read is whole)
                assert c.joints.shape == (len(c.timestamps), 25, 3) and c.confidence.shape == (len(c.timestamps), 25)
            time.sleep(0.01)
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.strip().endswith("done"), err[-2000:]
    lib = assert_intact(lib_dir, {k: v for k, v in before.items()})
    kept = [i for i in lib.list() if i.id not in before]
    assert len(kept) == 12 + 12 - 2  # three imported clips deleted, one of them undone
    assert lib.labels() == {"cli": 10, "earlier 0": 1, "earlier 2": 1, "window": 9, "window, relabelled": 3}
    assert sorted(i.frames for i in kept if i.label == "cli")[0] == 100  # the trim landed
    for info in kept:
        assert lib.get(info.id).joints.shape == (info.frames, 25, 3)
    lib.close()
