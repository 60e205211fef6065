"""The clip library: round trip, migration, crash safety, undo, trim, export/import, ClipSet."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from app.clips import (
    SCHEMA_V1, SCHEMA_VERSION, Library, LibraryError, check_arrays, make_preview, prepare_clip,
)
from fakes import body
from ms2l.config import ModelConfig

ROOT = Path(__file__).resolve().parents[2]
CFG = ModelConfig(hidden=32, layers=1, window=16)


def walk(T: int = 40, fps: float = 30.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real-looking clip: the fake body swinging its arms, ``[T, 25, 3]``, ``[T, 25]``, ``[T]``."""
    t = np.arange(T) / fps + 12.5  # a webcam clock does not start at 0
    j = np.stack([body(x, seed) for x in t]).astype(np.float32)
    return j, np.ones((T, 25), np.float32), t


def test_round_trip_keeps_arrays_bit_for_bit(tmp_path):
    j, c, t = walk()
    c[5] = 0  # a frame without a person
    c[7, 3] = 0.4
    prev = make_preview(np.full((480, 640, 3), 90, np.uint8))
    with Library(tmp_path / "lib") as lib:
        cid = lib.add(j, c, t, label="  wave   hello ", source="camera:0", preview=prev)
        clip = lib.get(cid)
    with Library(tmp_path / "lib", create=False) as lib:  # reopened: it was committed
        again = lib.get(cid)
        assert lib.schema_version == SCHEMA_VERSION and lib.check() == []
    for c_ in (clip, again):
        assert c_.label == "wave hello" and c_.source == "camera:0"
        assert c_.joints.dtype == np.float32 and c_.joints.shape == (40, 25, 3)
        np.testing.assert_array_equal(c_.joints[c[:, 0] > 0], j[c[:, 0] > 0])
        assert (c_.joints[5] == 0).all() and (c_.confidence[5] == 0).all()
        assert c_.confidence[7, 3] == np.float32(0.4)
        np.testing.assert_allclose(c_.timestamps, t - t[0], atol=1e-12)
        assert c_.fps == pytest.approx(30.0) and c_.duration_s == pytest.approx(39 / 30)
        assert c_.preview == prev and c_.preview[:2] == b"\xff\xd8"  # a JPEG
    info = Library(tmp_path / "lib").info(cid)
    assert (info.frames, info.has_preview, info.label) == (40, True, "wave hello")


def test_bad_arrays_are_refused_with_reasons(tmp_path):
    lib = Library(tmp_path)
    with pytest.raises(LibraryError, match=r"\[T>0, 25, 3\]"):
        lib.add(np.zeros((10, 20, 3)))
    with pytest.raises(LibraryError, match="strictly increasing"):
        lib.add(np.zeros((3, 25, 3)), None, [0.0, 0.1, 0.1])
    j = np.zeros((3, 25, 3), np.float32)
    j[1, 4] = np.nan
    jj, cc, tt, fps = check_arrays(j, None, None, fps=15)
    assert cc[1, 4] == 0 and jj[1, 4].tolist() == [0, 0, 0] and fps == 15 and tt[-1] == pytest.approx(2 / 15)
    assert len(lib) == 0
    with pytest.raises(LibraryError, match="no clip library"):
        Library(tmp_path / "nowhere", create=False)


def test_labels_relabel_trim_delete_undo_purge(tmp_path):
    lib = Library(tmp_path)
    ids = [lib.add(*walk(20 + i), label=lab) for i, lab in enumerate(["wave", "wave", "clap", None])]
    assert lib.labels() == {"clap": 1, "wave": 2} and lib.unlabelled_count() == 1
    assert [i.id for i in lib.list("wave")] == ids[:2] and [i.id for i in lib.list(None)] == [ids[3]]
    assert lib.relabel([ids[1], ids[3]], "clap") == 2
    assert lib.labels() == {"clap": 3, "wave": 1}
    info = lib.trim(ids[0], 5, -5)
    assert info.frames == 10 and lib.get(ids[0]).timestamps[0] == 0
    with pytest.raises(LibraryError, match="leaves no frame"):
        lib.trim(ids[0], 8, 8)
    assert lib.delete([ids[0], ids[2]]) == [ids[0], ids[2]]
    assert lib.delete(ids[0]) == []  # already in the bin
    assert lib.labels() == {"clap": 2} and len(lib) == 2
    assert [i.id for i in lib.list(deleted=True)] == [ids[0], ids[2]]
    assert lib.undelete(ids[0]) == [ids[0]]
    assert lib.labels() == {"clap": 2, "wave": 1}
    assert lib.purge() == 1  # ids[2], for good
    with pytest.raises(LibraryError):
        lib.get(ids[2])
    assert lib.rename_label("clap", "applause") == 2 and lib.labels() == {"applause": 2, "wave": 1}
    new = lib.add(*walk(), label="x")
    assert new > ids[2]  # ids are never reused, so an undo can never hit a newer clip


def test_migration_from_schema_v1(tmp_path):
    """A real version-1 file (float32 timestamps, ISO dates) opens, is migrated in place and keeps its clips."""
    db_path = tmp_path / "clips.sqlite3"
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO schema_version VALUES (1, 0)")
    j, c, t = walk(12, fps=15)
    db.execute("INSERT INTO clips (label, frames, joints, confidence, timestamps, fps, source, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               ("wave", 12, j.tobytes(), c.tobytes(), (t - t[0]).astype("<f4").tobytes(), 15.0, "camera:0",
                "2024-05-01T10:00:00+00:00"))
    db.commit()
    db.close()
    with Library(tmp_path) as lib:
        assert lib.schema_version == SCHEMA_VERSION == 3  # through v2 to v3 in one transaction
        clip = lib.get(1)
        assert clip.label == "wave" and clip.timestamps.dtype == np.float64
        np.testing.assert_allclose(clip.timestamps, t - t[0], atol=1e-6)
        np.testing.assert_array_equal(clip.joints, j)
        assert clip.created_at == 1714557600.0 and clip.preview is None
        versions = [r[0] for r in lib._query("SELECT version FROM schema_version ORDER BY version")]
        assert versions == [1, 2, 3] and lib.info(1).persons == 1 and clip.persons == 1
        # the new features work on migrated data
        lib.delete(1)
        assert len(lib) == 0 and lib.undelete(1) == [1]
        with pytest.raises(sqlite3.IntegrityError):  # v2 checks hold for migrated tables
            with lib._tx() as d:
                d.execute("UPDATE clips SET frames = 13 WHERE id = 1")
        assert lib.check() == []


def test_newer_schema_is_refused(tmp_path):
    Library(tmp_path).close()
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    db.execute("INSERT INTO schema_version VALUES (99, 0)")
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match="newer"):
        Library(tmp_path)


WRITER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, sys.argv[2])
    from app.clips import Library
    lib = Library(sys.argv[1])
    rng = np.random.default_rng(0)
    T = 3000  # ~1.2 MB per clip: the kill lands inside a write more often than not
    j = rng.normal(size=(T, 25, 3)).astype(np.float32)
    i = 0
    while True:
        cid = lib.add(j + i, None, None, label=f"l{i % 3}", fps=30.0)
        print(cid, flush=True)
        i += 1
""")


def test_sigkill_mid_write_leaves_a_consistent_library(tmp_path):
    lib_dir = tmp_path / "lib"
    Library(lib_dir).close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(lib_dir), str(ROOT)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    committed = []
    try:
        deadline = time.monotonic() + 60
        while len(committed) < 4 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.append(int(line))
        time.sleep(0.013)  # into the next clip's write
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # Clips committed while we slept are acknowledged too: read what the child printed before dying.
        committed += [int(x) for x in proc.stdout.read().split()]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and len(committed) >= 4
    with Library(lib_dir) as lib:
        assert lib.check() == []
        ids = [i.id for i in lib.list()]
        assert set(committed) <= set(ids)  # every acknowledged clip survived
        assert len(ids) <= len(committed) + 1  # at most the clip being written: committed, not yet printed
        for cid in ids:
            clip = lib.get(cid)
            assert clip.joints.shape == (3000, 25, 3)
            np.testing.assert_allclose(clip.joints[0, 0, 0] - lib.get(ids[0]).joints[0, 0, 0], cid - ids[0], atol=1e-3)
        lib.add(*walk(), label="after the crash")  # still writable
        assert lib.check() == []


def test_export_and_import_dataset_folder(tmp_path):
    lib = Library(tmp_path / "a")
    prev = make_preview(np.zeros((60, 80, 3), np.uint8))
    ids = [lib.add(*walk(10 + i), label=lab, preview=prev if i == 0 else None, source=f"s{i}")
           for i, lab in enumerate(["wave", "clap", None])]
    lib.delete(ids[1])
    out = tmp_path / "export"
    summary = lib.export(out)
    assert summary["clips"] == 2 and summary["labels"] == {"wave": 1}
    assert (out / "README.md").exists() and (out / "labels.json").exists()
    with np.load(out / f"clips/clip_{ids[0]:06d}.npz", allow_pickle=False) as z:
        assert z["joints"].shape == (10, 25, 3) and str(z["label"]) == "wave" and z["timestamps"].dtype == np.float64
    with pytest.raises(LibraryError, match="not empty"):
        lib.export(out)
    lib.export(out, overwrite=True, labels=["wave"])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(LibraryError, match="not an earlier ms2l export"):
        lib.export(tmp_path / "other", overwrite=True)

    lib.export(tmp_path / "full")
    b = Library(tmp_path / "b")
    new = b.import_folder(tmp_path / "full")
    assert len(new) == 2 and b.labels() == {"wave": 1} and b.unlabelled_count() == 1
    np.testing.assert_array_equal(b.get(new[0]).joints, lib.get(ids[0]).joints)
    assert b.get(new[0]).preview == prev and b.get(new[0]).source == "s0"
    # exported clips replay in the live window as skeleton sources
    from app.live.sources import SkeletonClipSource
    src = SkeletonClipSource(tmp_path / "full" / f"clips/clip_{ids[0]:06d}.npz")
    assert src.read().skeleton is not None


@pytest.mark.parametrize("bad", ["../outside.npz", "/etc/passwd", "clips/../../x.npz", "a\\b.npz"])
def test_import_refuses_paths_escaping_the_folder(tmp_path, bad):
    lib = Library(tmp_path / "a")
    lib.add(*walk(), label="wave")
    lib.export(tmp_path / "ds")
    (tmp_path / "outside.npz").write_bytes((tmp_path / "ds" / "clips" / "clip_000001.npz").read_bytes())
    index = tmp_path / "ds" / "index.csv"
    lines = index.read_text().splitlines()
    good = lines[1]
    lines.append(good.replace("clips/clip_000001.npz", bad))
    index.write_text("\n".join(lines) + "\n")
    b = Library(tmp_path / "b")
    with pytest.raises(LibraryError, match="refusing path"):
        b.import_folder(tmp_path / "ds")
    assert len(b) == 0  # nothing imported before the check


def test_clipset_matches_the_live_path(tmp_path):
    """Library clips become model input through the window buffer's grid and prepare()."""
    from app.live.window import WindowBuffer
    from app.types import Skeleton
    from ms2l.preprocess import prepare

    lib = Library(tmp_path)
    j, c, t = walk(45, fps=30)
    t = t + np.random.default_rng(1).uniform(-0.004, 0.004, len(t))  # webcam jitter
    a = lib.add(j, c, t, label="wave")
    lib.add(*walk(30, seed=1), label="clap")
    lib.add(*walk(30, seed=2), label=None)
    cs = lib.clipset(CFG)
    assert cs.label_names == ("clap", "wave") and sorted(cs.labels.tolist()) == [0, 1]
    assert cs.clips[0].shape[1:] == (1, 25, 3)
    only = lib.clipset(CFG, labels=["wave"])
    assert len(only) == 1 and only.meta["id"].tolist() == [a]
    un = lib.clipset(CFG, labels=["clap", "wave"], unlabelled=True)
    assert len(un) == 1 and un.labels.tolist() == [-1]
    # the same clip through the live window buffer gives the same input
    buf = WindowBuffer(CFG.fps, window=1000, min_frames=1)
    clip = lib.get(a)
    for k in range(clip.frames):
        buf.push(Skeleton(clip.timestamps[k], k, clip.joints[k], clip.confidence[k]))
    w = buf.window()
    live = prepare(w.joints, w.confidence, CFG, source_fps=w.fps)
    np.testing.assert_allclose(prepare_clip(clip, CFG), live, atol=1e-5)
    assert 21 <= len(live) <= 23  # about 1.47 s at 15 fps


def test_import_real_skeleton_files(tmp_path, ntu_dir, nwucla_dir):
    from pose_adapters.readers import write_pkummd, read_ntu_skeleton

    lib = Library(tmp_path / "lib")
    [n] = lib.import_skeleton_file(ntu_dir / "S001C001P001R001A011.skeleton")
    [u] = lib.import_skeleton_file(nwucla_dir / "a01_s01_e00_v01.json") if (nwucla_dir / "a01_s01_e00_v01.json").exists() \
        else lib.import_skeleton_file(sorted(nwucla_dir.glob("a01_*_v01.json"))[0])
    ntu = lib.get(n)
    assert ntu.label == "NTU A011" and ntu.fps == 30 and ntu.source.startswith("ntu:")
    assert lib.get(u).label == "pick up with one hand" and lib.get(u).fps == 15
    s = read_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")
    write_pkummd(s.joints, tmp_path / "0002-M.txt", s.confidence)
    [p] = lib.import_skeleton_file(tmp_path / "0002-M.txt", label="handshake")
    assert lib.get(p).label == "handshake" and lib.get(p).frames > 10
    assert lib.info(p).persons == 2 and lib.info(n).persons == lib.info(u).persons == 1  # a handshake is a pair
    with pytest.raises(LibraryError, match="unknown skeleton file type"):
        (tmp_path / "x.csv").write_text("1")
        lib.import_skeleton_file(tmp_path / "x.csv")
    with pytest.raises(LibraryError, match="'handshake' has two-person clips .* the model takes 1 person"):
        lib.clipset(CFG)  # never padded or cut to fit
    assert len(lib.clipset(CFG, labels=["NTU A011", "pick up with one hand"])) == 2
    pair = lib.clipset(CFG.replace(persons=2), labels=["handshake"])
    assert len(pair) == 1 and pair.clips[0].shape[1:] == (2, 25, 3)


def test_import_video_uses_pose_extraction(tmp_path, videos_dir):
    lib = Library(tmp_path)
    seen = []
    cid = lib.import_video(videos_dir / "calisthenics-3people.avi", "exercise", max_frames=12,
                           progress=lambda d, n: seen.append((d, n)))
    clip = lib.get(cid)
    assert clip.label == "exercise" and 1 <= clip.frames <= 12 and clip.fps == pytest.approx(10, abs=0.5)
    assert (clip.confidence > 0).any(-1)[[0, -1]].all()  # trimmed to frames with a person
    assert clip.preview is not None and seen[-1] == (12, 12)

    class Stop(Exception):
        pass

    def cancel(done, total):
        if done == 3:
            raise Stop
    with pytest.raises(Stop):
        lib.import_video(videos_dir / "calisthenics-3people.avi", "x", max_frames=12, progress=cancel)
    assert len(lib) == 1


def test_skeleton_files_without_a_person_are_refused(tmp_path):
    lib = Library(tmp_path / "lib")
    empty = tmp_path / "S001C001P001R001A001.skeleton"
    empty.write_text("3\n0\n0\n0\n")  # three frames, no body in any
    with pytest.raises(LibraryError, match="no person"):
        lib.import_skeleton_file(empty)
    assert len(lib) == 0 and lib.check() == []
