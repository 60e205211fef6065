"""Several people in the clip library: schema v3 (``persons``), migration from v2, pairs through
import, export, listing, training data and recording (Qt-free parts)."""
from __future__ import annotations

import csv
import json
import sqlite3
from types import SimpleNamespace

import numpy as np
import pytest

from app.clips import MIGRATIONS, SCHEMA_V2, SCHEMA_VERSION, Library, LibraryError, prepare_clip
from app.clips.recording import Follow, Take, partner_of, trim_bounds
from app.types import Skeleton
from fakes import body
from ms2l.config import ModelConfig

CFG = ModelConfig(hidden=32, layers=1, window=16)
CFG2 = CFG.replace(persons=2)


def walk(T: int = 30, fps: float = 30.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(T) / fps + 3.0
    return np.stack([body(x, seed) for x in t]).astype(np.float32), np.ones((T, 25), np.float32), t


def pair(T: int = 30, fps: float = 30.0, gone: slice | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two people ``[2, T, 25, 3]``, the second 1 m to the side; ``gone``: frames without the second."""
    (a, ca, t), (b, cb, _) = walk(T, fps, 0), walk(T, fps, 1)
    b = b + np.array([1.0, 0, 0], np.float32)
    j, c = np.stack([a, b]), np.stack([ca, cb])
    if gone is not None:
        j[1, gone], c[1, gone] = 0, 0
    return j, c, t


# --- schema v3 and the migration from v2 ---------------------------------------------------------

def v2_library(root, clips) -> None:
    """A version-2 library file exactly as the v2 code wrote one (its DDL, its INSERT)."""
    db = sqlite3.connect(root / "clips.sqlite3")
    db.executescript(SCHEMA_V2)
    db.execute("INSERT INTO schema_version VALUES (2, 0)")
    for label, (j, c, t), preview in clips:
        db.execute("INSERT INTO clips (label, frames, joints, confidence, timestamps, fps, source, created_at, "
                   "preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (label, len(t), j.astype("<f4").tobytes(), c.astype("<f4").tobytes(),
                    (t - t[0]).astype("<f8").tobytes(), 30.0, "camera:0", 1714557600.0, preview))
    db.commit()
    db.close()


def test_a_v2_library_migrates_to_v3_with_one_person_per_clip(tmp_path):
    clips = [("wave", walk(20), b"\xff\xd8jpeg"), ("clap", walk(25, seed=1), None), (None, walk(12, seed=2), None),
             ("gone", walk(5), None)]
    v2_library(tmp_path, clips)
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    db.execute("UPDATE clips SET deleted_at = 5.0 WHERE id = 2")  # in the bin
    db.execute("DELETE FROM clips WHERE id = 4")  # purged for good: its id must never come back
    db.commit()
    db.close()
    with Library(tmp_path) as lib:
        assert lib.schema_version == SCHEMA_VERSION == 3
        assert [r[0] for r in lib._query("SELECT version FROM schema_version ORDER BY version")] == [2, 3]
        assert [(i.id, i.persons) for i in lib.list()] == [(1, 1), (3, 1)]
        assert [i.id for i in lib.list(deleted=True)] == [2]
        for cid, (label, (j, c, t), preview) in zip((1, 2, 3), clips):
            clip = lib.get(cid)
            assert clip.label == label and clip.persons == 1 and clip.joints.shape == j.shape
            np.testing.assert_array_equal(clip.joints, j)
            np.testing.assert_array_equal(clip.confidence, c)
            np.testing.assert_allclose(clip.timestamps, t - t[0], atol=1e-12)
            assert clip.preview == preview and clip.created_at == 1714557600.0
        assert lib.check() == []
        assert lib._query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'clips_label'")
        assert lib.add(*walk(), label="new") == 5  # after the purged 4, not 4 again
        with pytest.raises(sqlite3.IntegrityError):  # the v3 checks hold on the migrated table
            with lib._tx() as d:
                d.execute("UPDATE clips SET persons = 2 WHERE id = 1")
    with Library(tmp_path, create=False) as lib:  # reopened: nothing to migrate, all still there
        assert lib.schema_version == 3 and len(lib) == 3 and lib.check() == []


def test_a_failed_migration_leaves_the_v2_file_as_it_was(tmp_path, monkeypatch):
    v2_library(tmp_path, [("wave", walk(20), None)])
    real = MIGRATIONS[2]

    def dies_after(db):
        real(db)  # the whole rebuild done ...
        raise RuntimeError("power cut")  # ... and then the process dies before the commit
    monkeypatch.setitem(MIGRATIONS, 2, dies_after)
    with pytest.raises(RuntimeError, match="power cut"):
        Library(tmp_path)
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    assert "persons" not in [r[1] for r in db.execute("PRAGMA table_info(clips)")]
    assert db.execute("SELECT count(*) FROM clips").fetchone()[0] == 1
    assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'clips_v2'").fetchall()
    db.close()
    monkeypatch.setitem(MIGRATIONS, 2, real)
    with Library(tmp_path) as lib:
        assert lib.schema_version == 3 and lib.get(1).label == "wave"


KILLED_MIGRATION = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from app.clips import MIGRATIONS, Library
real = MIGRATIONS[2]

def killed(db):
    real(db)  # the table rebuilt, the transaction not yet committed
    os.kill(os.getpid(), signal.SIGKILL)
MIGRATIONS[2] = killed
Library(sys.argv[1])
"""


def test_sigkill_inside_the_migration_leaves_the_v2_library(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    clips = [("wave", walk(20), None), ("clap", walk(25, seed=1), b"jpeg")]
    v2_library(tmp_path, clips)
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", KILLED_MIGRATION, str(tmp_path), str(root)],
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert r.returncode == -signal.SIGKILL
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    assert "persons" not in [r[1] for r in db.execute("PRAGMA table_info(clips)")]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Library(tmp_path) as lib:  # the next open migrates for real
        assert lib.schema_version == 3 and [i.persons for i in lib.list()] == [1, 1] and lib.check() == []
        np.testing.assert_array_equal(lib.get(2).joints, clips[1][1][0])


def test_a_damaged_v2_row_stops_the_migration_with_its_id(tmp_path):
    v2_library(tmp_path, [("wave", walk(20), None), ("clap", walk(20), None)])
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    db.execute("PRAGMA ignore_check_constraints = ON")
    db.execute("UPDATE clips SET joints = zeroblob(600 * 20) WHERE id = 2")  # sizes of two persons in a v2 row
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match=r"clip\(s\) 2: array sizes do not match .* left unchanged \(version 2\)"):
        Library(tmp_path)
    db = sqlite3.connect(tmp_path / "clips.sqlite3")
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    db.close()


def test_a_pair_round_trips_and_trims_as_a_pair(tmp_path):
    j, c, t = pair(40, gone=slice(10, 20))
    with Library(tmp_path) as lib:
        pid = lib.add(j, c, t, label="handshake")
        one = lib.add(*walk(), label="wave")
        one4 = lib.add(*(a[None] for a in walk()[:2]), walk()[2], label="wave")  # [1, T, 25, 3] is one person
    with Library(tmp_path, create=False) as lib:
        clip = lib.get(pid)
        assert clip.persons == lib.info(pid).persons == 2 and clip.joints.shape == (2, 40, 25, 3)
        np.testing.assert_array_equal(clip.joints, j)
        np.testing.assert_array_equal(clip.confidence, c)
        assert (clip.confidence[1, 10:20] == 0).all() and (clip.confidence[0, 10:20] == 1).all()
        assert lib.get(one).joints.shape == lib.get(one4).joints.shape == (30, 25, 3)
        assert [i.persons for i in lib.list()] == [2, 1, 1] and lib.check() == []
        info = lib.trim(pid, 5, 25)
        clip = lib.get(pid)
        assert info.frames == 20 and info.persons == 2 and clip.joints.shape == (2, 20, 25, 3)
        np.testing.assert_array_equal(clip.joints, j[:, 5:25])
        with pytest.raises(LibraryError, match=r"confidence must be \[M=2, T=40, 25\]"):
            lib.add(j, c[0], t)
        with pytest.raises(LibraryError, match=r"\[M, T>0, 25, 3\]"):
            lib.add(np.zeros((2, 0, 25, 3)))
        assert lib.check() == []


# --- import, export, listing ---------------------------------------------------------------------

def test_export_and_import_keep_pairs(tmp_path):
    from pose_adapters.clipfile import read_clip
    from pose_adapters.readers import SkeletonFileError

    lib = Library(tmp_path / "a")
    pid = lib.add(*pair(30, gone=slice(0, 4)), label="handshake", source="camera:0")
    sid = lib.add(*walk(), label="wave")
    lib.export(tmp_path / "ds")
    rows = list(csv.DictReader(open(tmp_path / "ds" / "index.csv")))
    assert [(r["id"], r["persons"]) for r in rows] == [(str(pid), "2"), (str(sid), "1")]
    assert json.loads((tmp_path / "ds" / "labels.json").read_text())["version"] == 2
    f = tmp_path / "ds" / "clips" / f"clip_{pid:06d}.npz"
    with np.load(f) as z:
        assert z["joints"].shape == (2, 30, 25, 3) and z["confidence"].shape == (2, 30, 25)
    with pytest.raises(SkeletonFileError, match=r"holds 2 persons"):
        read_clip(f)  # one-person readers (replay) refuse a pair, saying why
    assert read_clip(f, multi=True).persons == 2
    from pose_adapters.clipfile import SkeletonClip, write_clip
    j, c, t = walk(8)
    one = write_clip(tmp_path / "one.npz", SkeletonClip(j[None], c[None], t, 30.0))  # [1, T, 25, 3]: one person
    assert read_clip(one).joints.shape == (8, 25, 3) and read_clip(one, multi=True).persons == 1
    b = Library(tmp_path / "b")
    new = b.import_folder(tmp_path / "ds")
    assert [b.info(i).persons for i in new] == [2, 1]
    np.testing.assert_array_equal(b.get(new[0]).joints, lib.get(pid).joints)
    [again] = b.import_skeleton_file(f)
    [first] = b.import_skeleton_file(f, persons=1)
    assert b.info(again).persons == 2 and b.info(first).persons == 1
    with pytest.raises(LibraryError, match="shows one person, not two"):
        b.import_skeleton_file(tmp_path / "ds" / "clips" / f"clip_{sid:06d}.npz", persons=2)


def test_a_two_person_ntu_file_imports_as_a_pair_and_lists_its_persons(tmp_path, ntu_dir):
    from app.cli import main
    from fakes import run_in_process

    lib = tmp_path / "lib"
    code, out, err = run_in_process(main, "clips", "import", ntu_dir / "S001C003P008R002A058.skeleton",
                                    ntu_dir / "S001C001P001R001A011.skeleton", "--library", lib)
    assert code == 0, err
    summary = json.loads(out)
    assert [(c["label"], c["persons"]) for c in summary["clips"]] == [("NTU A058", 2), ("NTU A011", 1)]
    code, out, err = run_in_process(main, "clips", "import", ntu_dir / "S001C003P008R002A058.skeleton",
                                    "--persons", "1", "--library", lib)
    assert code == 0 and json.loads(out)["clips"][0]["persons"] == 1
    code, out, _ = run_in_process(main, "clips", "list", "--library", lib)
    head, *lines = out.splitlines()[out.splitlines().index("") + 1:]
    assert head.split()[:4] == ["id", "label", "frames", "persons"]
    assert [ln.split()[0] + ":" + ln.split()[4] for ln in lines] == ["1:2", "2:1", "3:1"]  # "NTU A058" is 2 words
    listing = json.loads(run_in_process(main, "clips", "list", "--json", "--library", lib)[1])
    assert [c["persons"] for c in listing["clips"]] == [2, 1, 1]
    with Library(lib) as library:
        s = library.get(1)
        assert s.joints.shape[0] == 2 and ((s.confidence > 0).any(-1).sum(-1) > 10).all()  # both bodies, real


def test_an_ntu_noise_body_beside_one_person_stays_one_person(tmp_path):
    """The sensor's short-lived second "body" (a reflection) does not make a pair."""
    lines = _ntu_text(frames=40, second=range(3, 8))
    path = tmp_path / "S001C001P001R001A011.skeleton"
    path.write_text(lines)
    with Library(tmp_path / "lib") as lib:
        [i] = lib.import_skeleton_file(path)
        assert lib.info(i).persons == 1 and lib.get(i).frames == 40
        [k] = lib.import_skeleton_file(path, persons=2)  # asked for: both bodies
        assert lib.info(k).persons == 2


def _ntu_text(frames: int, second: range) -> str:
    out = [str(frames)]
    for t in range(frames):
        bodies = [0] + ([1] if t in second else [])
        out.append(str(len(bodies)))
        for b in bodies:
            out += [f"{72057594037930000 + b} 0 1 1 1 1 0 0.1 0.2 2", "25"]
            for x, y, z in body(t / 30, b) + np.array([b * 1.0, 0, 0]):
                out.append(f"{x:.4f} {y:.4f} {z:.4f} 250 200 900 500 0.1 0.2 0.3 0.9 2")
    return "\n".join(out) + "\n"


# --- training data -------------------------------------------------------------------------------

def test_training_refuses_mixed_or_mismatched_persons_instead_of_padding(tmp_path):
    lib = Library(tmp_path)
    w = lib.add(*walk(), label="wave")
    h1 = lib.add(*pair(), label="hug")
    h2 = lib.add(*walk(seed=3), label="hug")
    with pytest.raises(LibraryError, match=rf"clips of 'hug' mix one- and two-person clips \(one-person: clip\(s\) "
                                           rf"{h2}; two-person: clip\(s\) {h1}\)"):
        lib.clipset(CFG)
    with pytest.raises(LibraryError, match="mix one- and two-person"):
        lib.clipset(CFG2, labels=["hug"])
    assert lib.clipset(CFG, labels=["wave", "hug"], ids=[w, h2]).clips[0].shape[1] == 1  # one-person: as before
    lib.delete(h2)
    with pytest.raises(LibraryError, match=r"'hug' has two-person clips \(clip\(s\) 2\) but the model takes 1"):
        lib.clipset(CFG)
    with pytest.raises(LibraryError, match=r"'wave' has one-person clips .* the model takes 2"):
        lib.clipset(CFG2)
    cs = lib.clipset(CFG2, labels=["hug"])
    assert len(cs) == 1 and cs.clips[0].shape[1:] == (2, 25, 3)
    with pytest.raises(LibraryError, match="has 2 person"):
        prepare_clip(lib.get(h1), CFG)
    # unlabelled clips are extra data: those of another count are left out, never padded
    u1, u2 = lib.add(*walk(seed=4)), lib.add(*pair())
    assert lib.clipset(CFG, [], unlabelled=True).meta["id"].tolist() == [u1]
    assert lib.clipset(CFG2, [], unlabelled=True).meta["id"].tolist() == [u2]


def test_a_pair_becomes_model_input_as_the_live_pipeline_stacks_a_pair(tmp_path):
    """Each person through their own window buffer, stacked: what the pipeline feeds a two-person model."""
    from app.live.window import WindowBuffer
    from ms2l.preprocess import prepare

    j, c, t = pair(45)
    t = t + np.random.default_rng(1).uniform(-0.004, 0.004, len(t))  # webcam jitter
    lib = Library(tmp_path)
    clip = lib.get(lib.add(j, c, t, label="handshake"))
    wins = []
    for m in range(2):
        buf = WindowBuffer(CFG2.fps, window=1000, min_frames=1)
        for k in range(clip.frames):
            buf.push(Skeleton(clip.timestamps[k], k, clip.joints[m, k], clip.confidence[m, k]))
        wins.append(buf.window())
    live = prepare(np.stack([w.joints for w in wins]), np.stack([w.confidence for w in wins]), CFG2,
                   source_fps=wins[0].fps)
    x = prepare_clip(clip, CFG2)
    assert x.shape == live.shape and x.shape[1:] == (2, 25, 3)
    np.testing.assert_allclose(x, live, atol=1e-5)
    # the second person missing for a stretch: zeros there, never the first person's joints
    x1 = prepare_clip(lib.get(lib.add(*pair(45), label="handshake")), CFG2)
    x2 = prepare_clip(lib.get(lib.add(*pair(45, gone=slice(15, 30)), label="handshake")), CFG2)
    empty = (x2[:, 1] == 0).all(axis=(1, 2))
    assert len(x2) == len(x1) and 5 <= empty.sum() <= 9 and not empty[:5].any() and not empty[-5:].any()
    np.testing.assert_allclose(x2[:, 0], x1[:, 0], atol=1e-6)  # the first person is untouched by the gap


# --- recording a pair (Qt-free) ------------------------------------------------------------------

def sk(t: float, x: float = 0.0, seen: bool = True) -> Skeleton:
    j = body(t) + np.array([x, 0, 0], np.float32)
    return Skeleton(t, 0, j, np.full(25, 1.0 if seen else 0.0, np.float32))


def person(pid: int, cx: float, t: float = 0.0, partner: int | None = None, seen: bool = True):
    """A tracked person as a snapshot lists them (a box 100 px wide, 200 px high, centred at ``cx``)."""
    return SimpleNamespace(id=pid, box=np.array([cx - 50, 100, cx + 50, 300], np.float32),
                           skeleton=sk(t, cx / 100) if seen else None, partner=partner)


def test_take_of_a_pair_keeps_frames_consistent():
    take = Take(persons=2)
    for i in range(6):
        take.add(i / 10, sk(i / 10) if i != 0 else None, None, sk(i / 10, 1.0) if i not in (0, 2, 3) else None)
    assert trim_bounds(take.seen) == (1, 6) and take.partner_seen.tolist() == [False, True, False, False, True, True]
    j, c, t = take.arrays(1, 6)
    assert j.shape == (2, 5, 25, 3) and c.shape == (2, 5, 25) and t.shape == (5,)
    assert (c[1, 1:3] == 0).all() and (j[1, 1:3] == 0).all() and (c[0] == 1).all()
    j1, c1, _ = Take().arrays()
    assert j1.shape == (0, 25, 3)
    with pytest.raises(ValueError):
        Take(persons=3)


def test_partner_is_the_pipelines_pair_or_the_closest_by_its_rule():
    # a two-person model paired 1 with 3 in the pipeline: that pair, whatever the geometry
    people = [person(1, 100, partner=3), person(2, 220), person(3, 900, partner=1)]
    assert partner_of(people, 1) == 3 and partner_of(people, 3) == 1
    # no model pairing: closest_pair's rule -- 2 stands next to 1
    people = [person(1, 100), person(2, 220), person(3, 900)]
    assert partner_of(people, 1) == 2 and partner_of(people, 2) == 1
    assert partner_of([person(1, 100), person(2, 900), person(3, 220)], 1) == 3  # by distance, not by order
    # 1 and 2 are the closest pair; 3 is left out of it, so pairs with the closest of the rest (4)
    people = [person(1, 100), person(2, 220), person(3, 600), person(4, 900)]
    assert partner_of(people, 3) == 4
    assert partner_of([person(1, 100)], 1) is None and partner_of(people, None) is None
    assert partner_of([person(1, 100, seen=False), person(2, 220)], 1) is None  # not in view: no pair


def test_partner_of_uses_the_pipelines_closest_pair(monkeypatch):
    import app.clips.recording as recording

    calls = []

    def spy(tracks):
        calls.append(sorted(t.id for t in tracks))
        return tracks[-1], tracks[0]  # an odd rule: whatever closest_pair says is what counts
    monkeypatch.setattr(recording, "closest_pair", spy)
    assert partner_of([person(1, 100), person(2, 220), person(3, 900)], 1) == 3 and calls == [[1, 2, 3]]


def test_follow_keeps_one_partner_and_leaves_their_row_empty_when_they_vanish():
    def snap(i, selected=1, present=(1, 2, 3)):
        xs = {1: 100, 2: 220, 3: 900 if i < 10 else 250}
        people = tuple(person(p, xs[p], i / 30) for p in present)
        me = next((p for p in people if p.id == selected), None)
        return SimpleNamespace(frame=SimpleNamespace(t=i / 30), skeleton=me.skeleton if me else None,
                               selected=selected, persons=people)

    f = Follow(pair=True)
    f.start(snap(0))
    take = Take(persons=2)
    for i in range(30):
        # the partner (2) leaves after frame 9 and 3 steps closer -- the take must not swap in 3
        s = snap(i, present=(1, 2, 3) if i < 10 else (1, 3))
        me, other = f.skeletons(s)
        take.add(s.frame.t, me, None, other)
    assert f.partner == 2
    j, c, t = take.arrays(*trim_bounds(take.seen))
    assert j.shape == (2, 30, 25, 3) and (c[1, :10] > 0).all() and (c[1, 10:] == 0).all() and (c[0] > 0).all()
    np.testing.assert_allclose(j[1, 5], sk(5 / 30, 2.2).joints)  # person 2's joints, not 3's
    # someone else selected: nobody, for both rows (as for one person)
    assert f.skeletons(snap(40, selected=3)) == (None, None)
    # one person: the partner is never looked up
    one = Follow()
    one.start(snap(0))
    assert one.skeletons(snap(1))[1] is None and one.skeletons(snap(1))[0] is not None


def test_train_on_pairs_makes_a_two_person_model_on_the_one_person_encoder(tmp_path, tiny_encoder):
    """Two labels of two-person clips: Train builds a ``persons = 2`` model whose encoder is the
    one-person encoder run on each person, and the live recogniser takes it."""
    from app.finetune import FinetuneSpec, run_finetune
    from ms2l.checkpoint import load_model

    with Library(tmp_path / "lib") as lib:
        for k in range(3):
            j, c, t = pair(30 + 3 * k)
            lib.add(j, c, t, label="handshake")
            lib.add(j[:, ::-1].copy(), c, t, label="push")  # the same pair, backwards: another motion
        r = run_finetune(FinetuneSpec(strategy="finetune", encoder=str(tiny_encoder), device="cpu", epochs=1), lib,
                         out=tmp_path / "m")
    model, meta = load_model(r.model_path)
    enc, _ = load_model(tiny_encoder)
    assert (model.config.persons, model.config.encoder) == (2, "gru-persons")
    assert model.encoder.gru.weight_ih_l0.shape == enc.encoder.gru.weight_ih_l0.shape
    assert set(r.labels) == {"handshake", "push"}
