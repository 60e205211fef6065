"""Crash safety of the clip library, with real processes killed by SIGKILL.

A recording session, a dataset import and a fine-tuning run are each killed inside a write: the
child instruments its own clip store (:func:`watch_writes`; the store's code is unchanged) or its
model-file save, announces "in-write" from *inside* the transaction (after BEGIN, or after the INSERT
and before COMMIT) or inside the model file's write (before the rename), and sleeps there until the
parent's SIGKILL.  One recording case is killed after a random delay instead.  A one-byte flag file
the child keeps at 1 while a write transaction is open tells the parent, after the kill, whether it
landed inside a write; the module reports the count and asserts >= 90 %.

Afterwards the database passes SQLite's integrity check and the library's own check, every clip
saved before the crash reads back bit for bit, every clip the dying process had acknowledged is
there and whole, the clip being written is absent (killed before its COMMIT) or whole, no
half-written model is listed or loadable, and the library still takes new clips.  Two processes
(the window recording, the command line importing and editing) then write to one library at once
while a third reads: both start on a barrier, their write intervals are recorded and must overlap.

The children talk to the parent through stdout lines: acknowledgements are printed only after a
commit returned.
"""
from __future__ import annotations

import json
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
from conftest import report_line

HERE = Path(__file__).resolve().parent  # tests/reliability, for this module in the children
ROOT = HERE.parents[1]
TESTS = HERE.parent  # tests/, for fakes.py
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), str(HERE)])}

#: (case, landed inside a write) for every SIGKILL of this module.
KILLS: list[tuple[str, bool]] = []


@pytest.fixture(scope="module", autouse=True)
def kill_count(request):
    """Report where the module's kills landed; with the whole module run, assert >= 90 % inside a write."""
    yield
    if not KILLS:
        return
    inside = sum(ok for _, ok in KILLS)
    outside = ", ".join(case for case, ok in KILLS if not ok) or "none"
    report_line(request.config, f"crash: {inside} of {len(KILLS)} SIGKILLs landed inside a write "
                                f"(outside: {outside})")
    if len(KILLS) >= 10:  # the whole module (a -k selection of one random case proves nothing either way)
        assert inside >= 0.9 * len(KILLS), f"only {inside} of {len(KILLS)} kills landed inside a write: {KILLS}"


def watch_writes(flag: str | None = None, pause: str | None = None, at: int = 0) -> list[list[float]]:
    """In a child process: instrument its clip store's write transactions (the store itself is unchanged).

    Returns a list that receives ``[asked, began, ended]`` (``time.monotonic()``) per write transaction:
    asked before BEGIN IMMEDIATE (so a span includes waiting for another process's write lock), began
    when it returned, ended when COMMIT (or ROLLBACK) returned.  ``flag``: a one-byte file kept at 1
    while a transaction is open; the parent reads it after the kill.  ``pause`` in write number ``at``
    (counted from this call): ``"begin"`` stops right after BEGIN, ``"commit"`` after the statements,
    just before COMMIT; it prints ``in-write`` and sleeps until the parent kills the process.
    """
    import mmap

    from app.clips import store

    mark = None
    if flag is not None:
        fd = os.open(flag, os.O_RDWR)
        mark = mmap.mmap(fd, 1)  # shared with the page cache: the byte survives the SIGKILL
    enter, leave = store._Transaction.__enter__, store._Transaction.__exit__
    spans: list[list[float]] = []

    def stop(where: str) -> None:
        if pause == where and len(spans) == at:
            print("in-write", where, at, flush=True)
            time.sleep(300)

    def __enter__(self):
        asked = time.monotonic()
        db = enter(self)
        if mark is not None:
            mark[0] = 1
        spans.append([asked, time.monotonic(), 0.0])
        stop("begin")
        return db

    def __exit__(self, etype, e, tb):
        if etype is None:
            stop("commit")
        try:
            return leave(self, etype, e, tb)
        finally:
            spans[-1][2] = time.monotonic()
            if mark is not None:
                mark[0] = 0

    store._Transaction.__enter__, store._Transaction.__exit__ = __enter__, __exit__
    return spans


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


def in_write(lines: list[str]) -> bool:
    return any(ln.startswith("in-write") for ln in lines)


def acks(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln and not ln.startswith("in-write")]


def new_flag(tmp_path: Path) -> Path:
    flag = tmp_path / "in-write.flag"
    flag.write_bytes(b"\0")
    return flag


def run_and_kill(code: str, args: list[str], ready, delay: float, timeout: float = 120) -> list[str]:
    """Start ``code``, read its lines until ``ready(lines)``, wait ``delay`` s, SIGKILL it; returns every line
    it printed (acknowledgements still in the pipe included)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], stdout=subprocess.PIPE,
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
    from app.clips.recording import Take, trim_bounds  # the window's recorder: a take of frames, trimmed, saved
    from app.types import Skeleton
    from test_library_crash import EDGE, take, watch_writes
    lib = Library(sys.argv[1])
    watch_writes(sys.argv[2], pause=sys.argv[3] or None, at=int(sys.argv[4]))
    image = np.full((240, 320, 3), 128, np.uint8)
    k = 0
    while True:  # take after take, as a user recording one action after another
        j, c, t = take(k)
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

#: Where the recorder is killed: inside write number N (right after BEGIN, or after the INSERT and
#: before COMMIT), or after a random delay once three takes were acknowledged.
RECORDING_KILLS = [("begin", 1), ("commit", 1), ("begin", 3), ("commit", 3), ("commit", 5), ("random", 0)]


@pytest.mark.parametrize("pause,at", RECORDING_KILLS, ids=[f"{p}-{a}" if a else p for p, a in RECORDING_KILLS])
def test_sigkill_during_recording(tmp_path, pause, at):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    flag = new_flag(tmp_path)
    if pause == "random":
        delay = float(np.random.default_rng().uniform(0.0, 0.02))
        lines = run_and_kill(RECORDER, [lib_dir, flag, "", 0], lambda ls: len(ls) >= 3, delay)
        case = f"recording, {delay * 1000:.1f} ms after the 3rd take"
    else:
        lines = run_and_kill(RECORDER, [lib_dir, flag, pause, at], in_write, 0.0)
        case = f"recording, {'after BEGIN' if pause == 'begin' else 'before COMMIT'} of take {at}"
    inside = flag.read_bytes()[:1] == b"\1"
    KILLS.append((case, inside))
    acked = {int(cid): int(k) for k, cid in (ln.split() for ln in acks(lines))}
    lib = assert_intact(lib_dir, before)
    ids = {i.id for i in lib.list()}
    assert set(acked) <= ids, "a take the recorder had saved is missing"
    assert len(ids - set(acked) - set(before)) <= 1, "at most the take being written when killed"
    if pause != "random":
        assert inside, "the kill did not land inside the write transaction"
        assert len(acked) == at - 1
        assert ids - set(acked) - set(before) == set(), "a take killed before its COMMIT must not be there"
    for cid in ids - set(before):
        clip = lib.get(cid)
        k = acked.get(cid, len(acked))  # the unacknowledged one is the next take, whole
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
    from test_library_crash import watch_writes
    lib = Library(sys.argv[1])
    watch_writes(sys.argv[3], pause=sys.argv[4], at=int(sys.argv[5]))
    lib.import_folder(sys.argv[2], progress=lambda done, total: print(done, flush=True))
    print("finished", flush=True)
"""
N_IMPORT = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """An exported dataset of N_IMPORT clips (source ``other:k``) to import."""
    root = tmp_path_factory.mktemp("import")
    with Library(root / "other") as src:
        for k in range(N_IMPORT):
            src.add(*take(k, T=1500), label=f"imported {k % 4}", source=f"other:{k}")
        src.export(root / "dataset")
    return root / "dataset"


@pytest.mark.parametrize("pause,at", [("begin", 1), ("commit", 4), ("commit", 8)])
def test_sigkill_during_import(tmp_path, dataset, pause, at):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    flag = new_flag(tmp_path)
    expected = {f"other:{k}": take(k, T=1500) for k in range(N_IMPORT)}
    lines = run_and_kill(IMPORTER, [lib_dir, dataset, flag, pause, at], in_write, 0.0)
    inside = flag.read_bytes()[:1] == b"\1"
    KILLS.append((f"import, {'after BEGIN' if pause == 'begin' else 'before COMMIT'} of clip {at}", inside))
    assert inside, "the kill did not land inside the write transaction"
    assert "finished" not in lines, "the import ended before the kill"
    lib = assert_intact(lib_dir, before)
    imported = [i for i in lib.list() if i.id not in before]
    assert len(acks(lines)) <= len(imported) <= len(acks(lines)) + 1
    assert len(imported) == len(acks(lines)) == at - 1, "the clip killed before its COMMIT must not be there"
    for info in imported:  # each clip is whole: all of it or none of it
        clip = lib.get(info.id)
        j, c, _ = expected[clip.source]
        np.testing.assert_array_equal(clip.joints, j)
        np.testing.assert_array_equal(clip.confidence, c)
    # Importing again completes (the crash left no lock behind).
    again = lib.import_folder(dataset)
    assert len(again) == N_IMPORT and lib.check() == []
    lib.close()


# ---------------------------------------------------------------- fine-tuning

FINETUNER = """
    import os, sys, time
    import torch
    torch.set_num_threads(1)
    import ms2l.checkpoint as checkpoint
    from app.finetune import FinetuneSpec, run_finetune
    where = sys.argv[4]

    def stop():
        print("in-write", where, flush=True)
        time.sleep(300)

    if where == "half":  # killed while the model's temporary file is half written
        from safetensors.torch import save

        def save_file(state, path, metadata=None):
            data = save(state, metadata=metadata)
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
            stop()
        checkpoint.save_file = save_file
    else:  # killed with the temporary file whole, just before the rename puts it in place
        replace = os.replace

        def replace_model(src, dst):
            if str(src).endswith(".safetensors.tmp"):
                stop()
            return replace(src, dst)
        os.replace = replace_model
    spec = FinetuneSpec(labels=("wave", "squat"), strategy="joint", encoder=sys.argv[2], epochs=2,
                        val_fraction=0.0, device="cpu")
    def progress(ev):
        if ev.get("phase") == "train":
            print("epoch", ev.get("epoch"), flush=True)
    run_finetune(spec, sys.argv[1], out=sys.argv[3], progress=progress)
    print("finished", flush=True)
"""


@pytest.mark.parametrize("where", ["half", "rename"])
def test_sigkill_during_finetuning(tmp_path, where):
    import torch

    from app.models import STALE_TMP_S, list_models
    from fakes import body, tiny_model
    from ms2l.checkpoint import ModelFileError, load_model, save_model
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
    models = tmp_path / "models"
    earlier = tiny_model(models / "earlier.safetensors")  # a model the user already has
    earlier_bytes = earlier.read_bytes()
    out = models / "mine.safetensors"
    tmp = out.with_name(out.name + ".tmp")
    lines = run_and_kill(FINETUNER, [lib_dir, encoder, out, where], in_write, 0.0)
    inside = tmp.exists() and not out.exists()  # the model file's write had begun and not been renamed
    KILLS.append((f"fine-tuning, model file {'half written' if where == 'half' else 'written, not renamed'}", inside))
    assert inside, "the kill did not land inside the model file's write"
    assert "finished" not in lines and any(ln.startswith("epoch") for ln in lines)
    lib = assert_intact(lib_dir, before)
    assert len(lib) == 9 and lib.labels() == {"squat": 4, "wave": 4}
    # No half-written model: nothing at its path, none listed, none loadable; the earlier one untouched.
    with pytest.raises(ModelFileError, match="no model file"):
        load_model(out)
    if where == "half":
        with pytest.raises(ModelFileError):
            load_model(tmp)  # (the temporary really is half a model file)
    assert [e.name for e in list_models(models)] == ["Default model", "earlier"]
    assert earlier.read_bytes() == earlier_bytes and load_model(earlier)[0].config.labels
    # The left-over temporary: a fresh one may be a save in progress and stays; a stale one is removed.
    assert tmp.exists()
    old = time.time() - 2 * STALE_TMP_S
    os.utime(tmp, (old, old))
    assert [e.name for e in list_models(models)] == ["Default model", "earlier"] and not tmp.exists()
    tiny_model(out)  # saving there again works
    assert load_model(out)[0].config.labels and [e.name for e in list_models(models)][-1] == "mine"
    lib.add(np.stack([body(x) for x in np.arange(20) / 30.0]), label="wave")  # writable
    assert lib.check() == []
    lib.close()


# ---------------------------------------------------------------- two processes at once

WINDOW = """
    import json, os, sys, time
    from app.clips import Library
    from test_library_crash import take, watch_writes
    lib = Library(sys.argv[1])
    spans = watch_writes()
    print("ready", flush=True)
    sys.stdin.readline()  # the start barrier: the parent releases both writers at once
    # The window records takes (relabelling the last one now and then) until the command line is
    # done, at least 12: so the two write at once however the machine schedules them.
    k = 0
    while k < 12 or (not os.path.exists(sys.argv[2]) and k < 200):
        cid = lib.add(*take(200 + k, T=400), label="window", source=f"camera:0 #{k}")
        if k % 4 == 3:
            lib.relabel(cid, "window, relabelled")
        k += 1
        time.sleep(0.02)  # the user starts the next take
    print(json.dumps(spans), flush=True)
    print(k, flush=True)
    print("done", flush=True)
"""

CLI = """
    import contextlib, io, json, sys
    from app.cli import main  # the real `ms2l clips ...` commands, in one process
    from test_library_crash import watch_writes
    lib = ["--library", sys.argv[1]]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["clips", "list", "--json", *lib]) == 0  # the commands' own imports, before the barrier
    spans = watch_writes()
    print("ready", flush=True)
    sys.stdin.readline()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["clips", "import", sys.argv[2], "--quiet", *lib]) == 0
    ids = [str(i) for i in json.loads(out.getvalue().splitlines()[-1])["ids"]]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["clips", "delete", *ids[:3], *lib]) == 0
        assert main(["clips", "delete", "--undo", ids[0], *lib]) == 0
        assert main(["clips", "trim", ids[-1], "--end", "100", *lib]) == 0
    print(json.dumps(spans), flush=True)
    print("done", flush=True)
"""


def test_two_processes_using_one_library_at_once(tmp_path, report):
    lib_dir = tmp_path / "lib"
    before = seeded_library(lib_dir)
    src = Library(tmp_path / "other")
    for k in range(12):
        src.add(*take(300 + k, T=400), label="cli", source=f"dataset:{k}")
    src.export(tmp_path / "dataset")
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for code, args in ((WINDOW, [str(lib_dir), str(tmp_path / "cli-done")]),
                                (CLI, [str(lib_dir), str(tmp_path / "dataset")]))]
    try:
        for p in procs:  # both have imported everything and opened the library
            line = p.stdout.readline()
            assert line.strip() == "ready", p.stderr.read()[-2000:]
        # The window records while the command line imports and edits; a third party reads all the while,
        # as the window's library view does.
        seen: set[int] = set()
        reads = 0
        with Library(lib_dir) as reader:
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            while any(p.poll() is None for p in procs):
                if procs[1].poll() is not None:
                    (tmp_path / "cli-done").touch()
                for info in reader.list()[-3:]:
                    c = reader.get(info.id)  # (may have been trimmed since the listing: each read is whole)
                    assert c.joints.shape == (len(c.timestamps), 25, 3) and c.confidence.shape == (len(c.timestamps), 25)
                    seen.add(c.id)
                    reads += 1
                time.sleep(0.01)
        results, outs = [], []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0 and out.strip().endswith("done"), err[-2000:]
            outs.append(out.strip().splitlines())
        results = [json.loads(outs[0][-3]), json.loads(outs[1][-2])]
        takes = int(outs[0][-2])  # how many takes the window recorded
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    window, cli = results
    # The two writers really wrote at the same time: their write loops overlap, their transactions
    # interleave, and one waited for the other's write lock (a span runs from asking for the lock to COMMIT).
    overlap_s = min(window[-1][2], cli[-1][2]) - max(window[0][0], cli[0][0])
    waits = sum(1 for a in window for b in cli if a[0] < b[2] and b[0] < a[2])
    order = [who for _, who in sorted([(s[1], "W") for s in window] + [(s[1], "C") for s in cli])]
    switches = sum(x != y for x, y in zip(order, order[1:]))
    report(f"two writers: loops overlapped {overlap_s * 1000:.0f} ms, {waits} pairs of overlapping write spans, "
           f"{switches} switches between writers over {len(order)} transactions ({''.join(order)}), {reads} reads")
    assert overlap_s > 0, f"the writers never overlapped: {window[0]}..{window[-1]} vs {cli[0]}..{cli[-1]}"
    assert waits >= 1 and switches >= 2, f"the writers took turns but never wrote at once: {''.join(order)}"

    lib = assert_intact(lib_dir, {k: v for k, v in before.items()})
    kept = [i for i in lib.list() if i.id not in before]
    assert takes >= 12 and len(kept) == takes + 12 - 2  # three imported clips deleted, one of them undone
    assert lib.labels() == {"cli": 10, "earlier 0": 1, "earlier 2": 1, "window": takes - takes // 4,
                            "window, relabelled": takes // 4}
    assert sorted(i.frames for i in kept if i.label == "cli")[0] == 100  # the trim landed
    for info in kept:
        assert lib.get(info.id).joints.shape == (info.frames, 25, 3)
    # Nothing lost, nothing twice: every take and every imported clip exactly once, as written.
    everything = [i for i in lib.list() + lib.list(deleted=True) if i.id not in before]
    assert sorted(i.source for i in everything) == sorted([f"camera:0 #{k}" for k in range(takes)]
                                                          + [f"dataset:{k}" for k in range(12)])
    for info in everything:
        k = int(info.source.split("#")[1]) + 200 if info.source.startswith("camera") else int(info.source[8:]) + 300
        j, c, _ = take(k, T=400)
        clip = lib.get(info.id)
        np.testing.assert_array_equal(clip.joints, j[: clip.frames])
        np.testing.assert_array_equal(clip.confidence, c[: clip.frames])
    assert seen <= {i.id for i in lib.list() + lib.list(deleted=True)}, "a clip the reader saw was lost"
    lib.close()
