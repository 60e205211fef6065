"""The clip library: the user's own recorded and imported skeleton clips (Qt-free).

One SQLite database, ``<library dir>/clips.sqlite3``; the directory defaults to
``platformdirs.user_data_dir("ms2l-live")/library`` and is overridden by
``--library DIR`` (or ``MS2L_LIBRARY``).  Each clip is one row:

==============  =====================================================================
``label``       action name, or NULL for an unlabelled clip (still used by ``joint``)
``frames``      ``T``
``joints``      ``[T, 25, 3]`` float32 little-endian, metres, the project convention
``confidence``  ``[T, 25]`` float32 in [0, 1]; a frame whose row is all 0 has no person
``timestamps``  ``[T]`` float64 seconds, increasing, starting at 0
``fps``         the clip's nominal frame rate (video rate, or measured for a webcam)
``source``      where it came from (``camera:0``, a video path, ``nw-ucla:a01_s01_e01_v01``)
``created_at``  Unix time (seconds)
``preview``     optional JPEG thumbnail (about 160 px), opaque bytes
``deleted_at``  set by :meth:`Library.delete` (undo with :meth:`Library.undelete`)
==============  =====================================================================

Durability: WAL journal with ``synchronous=FULL`` and one transaction per
clip, so a crash or power cut loses at most the clip being written, never the
library.  The schema is versioned (table ``schema_version``) and migrated
forward, in one transaction, when an older library is opened.

Export (:meth:`Library.export`) writes a dataset folder other tools can read
(``index.csv``, ``labels.json``, one ``.npz`` per clip; see :data:`EXPORT_README`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

SCHEMA_VERSION = 2
DB_NAME = "clips.sqlite3"
EXPORT_FORMAT = "ms2l-clips"
EXPORT_VERSION = 1
V = 25  # joints per skeleton (NTU-25 convention)

Progress = Callable[[int, int], None]  # (done, total); total 0 when unknown


class LibraryError(ValueError):
    """A library, clip or dataset folder that cannot be used; the message says why."""


def default_library_dir() -> Path:
    """``MS2L_LIBRARY`` if set, else ``<user data dir>/ms2l-live/library``."""
    env = os.environ.get("MS2L_LIBRARY")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("ms2l-live")) / "library"


# --- schema -------------------------------------------------------------------------------------

#: Version 1 (the first release): timestamps as float32, created_at as ISO-8601 text, no
#: preview, no soft delete.  Kept so that migrations can be tested against a real v1 file.
SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL);
CREATE TABLE clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT,
    frames INTEGER NOT NULL,
    joints BLOB NOT NULL,
    confidence BLOB NOT NULL,
    timestamps BLOB NOT NULL,
    fps REAL NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""

_CLIPS_V2 = """
CREATE TABLE clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT CHECK (label IS NULL OR length(trim(label)) > 0),
    frames INTEGER NOT NULL CHECK (frames > 0),
    joints BLOB NOT NULL CHECK (length(joints) = frames * 300),
    confidence BLOB NOT NULL CHECK (length(confidence) = frames * 100),
    timestamps BLOB NOT NULL CHECK (length(timestamps) = frames * 8),
    fps REAL NOT NULL CHECK (fps > 0),
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    preview BLOB,
    deleted_at REAL
);
CREATE INDEX clips_label ON clips (label, deleted_at);
"""

SCHEMA_V2 = "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL);\n" + _CLIPS_V2


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run ``;``-separated DDL inside the open transaction (``executescript`` would commit it)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """float32 -> float64 timestamps, ISO -> Unix created_at, preview and deleted_at columns, checks."""
    from datetime import datetime, timezone

    db.execute("ALTER TABLE clips RENAME TO clips_v1")
    _script(db, _CLIPS_V2)
    rows = db.execute("SELECT id, label, frames, joints, confidence, timestamps, fps, source, created_at "
                      "FROM clips_v1 ORDER BY id").fetchall()
    for cid, label, frames, joints, conf, ts, fps, source, created in rows:
        t64 = np.frombuffer(ts, "<f4").astype("<f8").tobytes()
        try:
            dt = datetime.fromisoformat(str(created))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            created_s = dt.timestamp()
        except ValueError:
            created_s = 0.0
        db.execute("INSERT INTO clips (id, label, frames, joints, confidence, timestamps, fps, source, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (cid, label, frames, joints, conf, t64, fps, source, created_s))
    db.execute("DROP TABLE clips_v1")


#: ``MIGRATIONS[v]`` turns a version-``v`` database into version ``v + 1`` (inside one transaction).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}


# --- clips --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipInfo:
    """A clip without its arrays (for listings)."""

    id: int
    label: str | None
    frames: int
    fps: float
    duration_s: float
    source: str
    created_at: float
    has_preview: bool
    deleted_at: float | None = None


@dataclass(frozen=True)
class Clip:
    """One clip: ``joints[T, 25, 3]`` float32, ``confidence[T, 25]`` float32, ``timestamps[T]`` float64 s."""

    id: int
    label: str | None
    joints: np.ndarray
    confidence: np.ndarray
    timestamps: np.ndarray
    fps: float
    source: str
    created_at: float
    preview: bytes | None = None

    @property
    def frames(self) -> int:
        return len(self.timestamps)

    @property
    def duration_s(self) -> float:
        return float(self.timestamps[-1] - self.timestamps[0]) if self.frames > 1 else 0.0


def _label(label: str | None) -> str | None:
    if label is None:
        return None
    label = " ".join(str(label).split())  # one spelling per action: no stray or doubled spaces
    return label or None


def check_arrays(joints: Any, confidence: Any | None, timestamps: Any | None, fps: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validate and normalise one clip's arrays.

    Returns ``joints[T, 25, 3]`` float32 (non-finite or unseen joints set to 0 with
    confidence 0), ``confidence[T, 25]`` float32 in [0, 1], ``timestamps[T]`` float64
    starting at 0 (from ``fps`` when None) and the frame rate (measured when None).
    """
    j = np.asarray(joints, np.float32)
    if j.ndim != 3 or j.shape[1:] != (V, 3) or len(j) == 0:
        raise LibraryError(f"joints must be [T>0, 25, 3] in the NTU-25 convention, got {list(j.shape)}")
    T = len(j)
    c = np.ones((T, V), np.float32) if confidence is None else np.asarray(confidence, np.float32)
    if c.shape != (T, V):
        raise LibraryError(f"confidence must be [T={T}, 25], got {list(c.shape)}")
    c = np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0)
    bad = ~np.isfinite(j).all(-1)
    c = np.where(bad, 0.0, c).astype(np.float32)
    j = np.where((c > 0)[..., None], np.nan_to_num(j), 0.0).astype(np.float32)
    if timestamps is None:
        rate = float(fps) if fps and fps > 0 else 30.0
        t = np.arange(T, dtype=np.float64) / rate
    else:
        t = np.asarray(timestamps, np.float64).reshape(-1)
        if t.shape != (T,):
            raise LibraryError(f"timestamps must be [T={T}], got {list(t.shape)}")
        if not np.isfinite(t).all() or (T > 1 and np.any(np.diff(t) <= 0)):
            raise LibraryError("timestamps must be finite and strictly increasing")
        t = t - t[0]
    if fps is None or not (fps > 0 and math.isfinite(fps)):
        fps = (T - 1) / t[-1] if T > 1 and t[-1] > 0 else 30.0
    return j, c, t, float(fps)


def make_preview(image: np.ndarray, max_side: int = 160, quality: int = 80) -> bytes:
    """A small JPEG of a BGR ``image[H, W, 3]`` uint8 (the library's preview)."""
    import cv2

    h, w = image.shape[:2]
    s = max_side / max(h, w, 1)
    if s < 1:
        image = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise LibraryError("cannot encode the preview image")
    return buf.tobytes()


def _inside(root: Path, rel: str) -> Path:
    """``root / rel`` when it stays inside ``root``; a path escaping it raises LibraryError."""
    if not rel or os.path.isabs(rel) or "\\" in rel or "\x00" in rel:
        raise LibraryError(f"refusing path {rel!r}: dataset paths must be relative, inside the folder")
    root_r = root.resolve()
    p = (root / rel).resolve()
    if p != root_r and root_r not in p.parents:
        raise LibraryError(f"refusing path {rel!r}: it leads outside {root}")
    return p


# --- the library --------------------------------------------------------------------------------

class Library:
    """A clip library in ``root`` (created when missing).  Thread-safe: one connection, one lock.

    Args:
        root: the library directory (default :func:`default_library_dir`).
        create: create the directory and database when missing (False: LibraryError instead).
    """

    def __init__(self, root: str | Path | None = None, *, create: bool = True, timeout_s: float = 10.0) -> None:
        self.root = Path(root) if root is not None else default_library_dir()
        self.db_path = self.root / DB_NAME
        if self.root.exists() and not self.root.is_dir():
            raise LibraryError(f"{self.root} is a file, not a library folder")
        if not self.db_path.exists():
            if not create:
                raise LibraryError(f"no clip library at {self.root} ({DB_NAME} is missing)")
            self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per clip.
        self._db = sqlite3.connect(str(self.db_path), timeout=timeout_s, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed clip survives a power cut
            self._db.execute("PRAGMA foreign_keys=ON")
            self._upgrade()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise LibraryError(f"{self.db_path} is not a usable clip library: {e}") from None

    # -- plumbing ------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> "_Transaction":
        return _Transaction(self)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @property
    def schema_version(self) -> int:
        rows = self._query("SELECT max(version) FROM schema_version")
        return int(rows[0][0] or 0)

    def _upgrade(self) -> None:
        with self._tx() as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "schema_version" not in tables:
                if "clips" in tables:
                    raise LibraryError(f"{self.db_path} has clips but no schema version: not an ms2l-live library")
                _script(db, SCHEMA_V2)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION, time.time()))
                return
            version = int(db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
            if version > SCHEMA_VERSION:
                raise LibraryError(f"{self.db_path} has schema version {version}, newer than this ms2l-live "
                                   f"understands ({SCHEMA_VERSION}): update ms2l-live")
            while version < SCHEMA_VERSION:
                if version not in MIGRATIONS:
                    raise LibraryError(f"no migration from library schema version {version}")
                MIGRATIONS[version](db)
                version += 1
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check and a per-clip array check ([] when sound)."""
        problems = [r[0] for r in self._query("PRAGMA integrity_check") if r[0] != "ok"]
        for cid, frames, j, c, t in self._query("SELECT id, frames, joints, confidence, timestamps FROM clips"):
            if len(j) != frames * V * 12 or len(c) != frames * V * 4 or len(t) != frames * 8:
                problems.append(f"clip {cid}: array sizes do not match {frames} frames")
        return problems

    # -- writing -------------------------------------------------------------------------------------
    def add(self, joints: np.ndarray, confidence: np.ndarray | None = None, timestamps: np.ndarray | None = None, *,
            label: str | None = None, source: str = "", fps: float | None = None, preview: bytes | None = None,
            created_at: float | None = None) -> int:
        """Store one clip (``joints[T, 25, 3]``, ``confidence[T, 25]``, ``timestamps[T]`` s) in one transaction.

        Returns its id.  See :func:`check_arrays` for what is accepted.
        """
        j, c, t, fps = check_arrays(joints, confidence, timestamps, fps)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO clips (label, frames, joints, confidence, timestamps, fps, source, created_at, preview) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_label(label), len(t), j.astype("<f4").tobytes(), c.astype("<f4").tobytes(),
                 t.astype("<f8").tobytes(), fps, str(source), time.time() if created_at is None else created_at,
                 preview))
            return int(cur.lastrowid)

    def relabel(self, ids: int | Iterable[int], label: str | None) -> int:
        """Give clips a new label (None: unlabelled); returns how many changed."""
        ids = _ids(ids)
        with self._tx() as db:
            n = sum(db.execute("UPDATE clips SET label = ? WHERE id = ?", (_label(label), i)).rowcount for i in ids)
        return n

    def rename_label(self, old: str, new: str | None) -> int:
        """Relabel every clip of ``old`` (kept or deleted) as ``new``; returns how many changed."""
        with self._tx() as db:
            return db.execute("UPDATE clips SET label = ? WHERE label = ?", (_label(new), _label(old))).rowcount

    def trim(self, clip_id: int, start: int, end: int) -> ClipInfo:
        """Keep frames ``start:end`` (Python slice semantics, at least one frame) of a clip."""
        clip = self.get(clip_id)
        idx = range(clip.frames)[start:end]
        if len(idx) == 0:
            raise LibraryError(f"trim {start}:{end} leaves no frame of clip {clip_id} ({clip.frames} frames)")
        s = slice(idx.start, idx.stop)
        j, c, t, _ = check_arrays(clip.joints[s], clip.confidence[s], clip.timestamps[s], clip.fps)
        with self._tx() as db:
            db.execute("UPDATE clips SET frames = ?, joints = ?, confidence = ?, timestamps = ? WHERE id = ?",
                       (len(t), j.astype("<f4").tobytes(), c.astype("<f4").tobytes(), t.astype("<f8").tobytes(),
                        clip_id))
        return self.info(clip_id)

    def set_preview(self, clip_id: int, preview: bytes | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE clips SET preview = ? WHERE id = ?", (preview, clip_id))

    def delete(self, ids: int | Iterable[int]) -> list[int]:
        """Move clips to the bin (undo with :meth:`undelete`); returns the ids that were deleted."""
        ids = _ids(ids)
        now = time.time()
        done = []
        with self._tx() as db:
            for i in ids:
                if db.execute("UPDATE clips SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", (now, i)).rowcount:
                    done.append(i)
        return done

    def undelete(self, ids: int | Iterable[int]) -> list[int]:
        """Bring clips back from the bin; returns the ids restored."""
        ids = _ids(ids)
        done = []
        with self._tx() as db:
            for i in ids:
                if db.execute("UPDATE clips SET deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL", (i,)).rowcount:
                    done.append(i)
        return done

    def purge(self, ids: Iterable[int] | None = None, older_than_s: float | None = None) -> int:
        """Delete clips in the bin for good (all, the given ids, or those deleted longer ago than ``older_than_s``)."""
        sql, args = "DELETE FROM clips WHERE deleted_at IS NOT NULL", []
        if older_than_s is not None:
            sql += " AND deleted_at < ?"
            args.append(time.time() - older_than_s)
        with self._tx() as db:
            if ids is None:
                return db.execute(sql, args).rowcount
            return sum(db.execute(sql + " AND id = ?", [*args, i]).rowcount for i in _ids(ids))

    # -- reading -------------------------------------------------------------------------------------
    _INFO = "id, label, frames, fps, timestamps, source, created_at, preview IS NOT NULL, deleted_at"

    @staticmethod
    def _info(row: tuple) -> ClipInfo:
        cid, label, frames, fps, ts, source, created, has_prev, deleted = row
        t = np.frombuffer(ts, "<f8")
        return ClipInfo(int(cid), label, int(frames), float(fps), float(t[-1] - t[0]) if len(t) > 1 else 0.0,
                        source, float(created), bool(has_prev), deleted)

    def list(self, label: Any = ..., *, deleted: bool = False,
             ids: Iterable[int] | None = None) -> list[ClipInfo]:
        """Clips, oldest first: all (``label=...``), one label's, or the unlabelled ones (``label=None``).

        ``deleted=True`` lists the bin instead.
        """
        sql = f"SELECT {self._INFO} FROM clips WHERE deleted_at IS {'NOT ' if deleted else ''}NULL"
        args: list[Any] = []
        if label is None:
            sql += " AND label IS NULL"
        elif label is not ...:
            sql += " AND label = ?"
            args.append(_label(label))
        if ids is not None:
            want = _ids(ids)
            sql += f" AND id IN ({','.join('?' * len(want))})" if want else " AND 0"
            args += want
        return [self._info(r) for r in self._query(sql + " ORDER BY id", args)]

    def __len__(self) -> int:
        return int(self._query("SELECT count(*) FROM clips WHERE deleted_at IS NULL")[0][0])

    def labels(self) -> dict[str, int]:
        """Clip counts per label (kept clips, labelled ones), sorted by label."""
        rows = self._query("SELECT label, count(*) FROM clips WHERE deleted_at IS NULL AND label IS NOT NULL "
                           "GROUP BY label ORDER BY label")
        return {r[0]: int(r[1]) for r in rows}

    def unlabelled_count(self) -> int:
        return int(self._query("SELECT count(*) FROM clips WHERE deleted_at IS NULL AND label IS NULL")[0][0])

    def info(self, clip_id: int) -> ClipInfo:
        rows = self._query(f"SELECT {self._INFO} FROM clips WHERE id = ?", (int(clip_id),))
        if not rows:
            raise LibraryError(f"no clip {clip_id} in {self.root}")
        return self._info(rows[0])

    def get(self, clip_id: int) -> Clip:
        rows = self._query("SELECT id, label, frames, joints, confidence, timestamps, fps, source, created_at, preview "
                           "FROM clips WHERE id = ?", (int(clip_id),))
        if not rows:
            raise LibraryError(f"no clip {clip_id} in {self.root}")
        cid, label, T, j, c, t, fps, source, created, preview = rows[0]
        return Clip(int(cid), label, np.frombuffer(j, "<f4").reshape(T, V, 3).astype(np.float32),
                    np.frombuffer(c, "<f4").reshape(T, V).astype(np.float32),
                    np.frombuffer(t, "<f8").astype(np.float64), float(fps), source, float(created), preview)

    def clips(self, infos: Iterable[ClipInfo] | None = None) -> Iterator[Clip]:
        for info in (self.list() if infos is None else infos):
            yield self.get(info.id)

    # -- training data -------------------------------------------------------------------------------
    def clipset(self, config: Any, labels: Sequence[str] | None = None, ids: Iterable[int] | None = None,
                unlabelled: bool = False) -> Any:
        """A :class:`ms2l.datasets.ClipSet` of the chosen clips, prepared for ``config`` (a ModelConfig).

        ``labels``: the classes, in this order (default: every label, sorted); only
        their clips are included, unless ``unlabelled`` (then the unlabelled clips,
        label -1).  ``ids`` narrows the choice further.  Each clip is put on an even
        grid at the model's frame rate by timestamp (as the live window buffer does)
        and then through :func:`ms2l.preprocess.prepare`, so training sees exactly
        what live inference will.  ``meta["id"]`` holds the clip ids.
        """
        from ms2l.datasets import ClipSet

        names = tuple(labels) if labels is not None else tuple(self.labels())
        if unlabelled:
            infos = self.list(None, ids=ids)
        else:
            wanted = {_label(n) for n in names}
            infos = [i for i in self.list(ids=ids) if i.label in wanted]
        xs, ys, clip_ids = [], [], []
        for info in infos:
            x = prepare_clip(self.get(info.id), config)
            if len(x) == 0:
                continue  # nobody in any frame: nothing to learn from
            xs.append(x)
            ys.append(-1 if unlabelled else names.index(info.label))
            clip_ids.append(info.id)
        return ClipSet(xs, np.asarray(ys, dtype=int), names, [str(i) for i in clip_ids],
                       {"id": np.asarray(clip_ids, dtype=int)})

    # -- import --------------------------------------------------------------------------------------
    def import_video(self, video: str | Path, label: str | None, *, mirrored: bool = False,
                     start_s: float | None = None, end_s: float | None = None, max_frames: int | None = None,
                     progress: Progress | None = None, extract: Callable[..., dict] | None = None) -> int:
        """Run pose extraction (MediaPipe) on ``video`` and store it as one clip; returns its id.

        ``start_s``/``end_s`` keep only that stretch (media time); frames before the
        first and after the last with a person are dropped.  ``progress(done, total)``
        after every frame; an exception it raises cancels the import (nothing is stored).
        """
        video = Path(video)
        if extract is None:
            from ms2l.extract import extract_video as extract
        if end_s is not None:
            # No need to run the pose estimator past the stretch (frames count from 0 at 0 s).
            rate = _video_fps(video)
            if rate:
                need = int(math.ceil((end_s + 1.0) * rate)) + 1
                max_frames = need if max_frames is None else min(max_frames, need)
        r = extract(video, mirrored=mirrored, max_frames=max_frames, progress=False, on_frame=progress)
        joints, conf, t = r["joints"], r["confidence"], np.asarray(r["timestamps"], np.float64)
        fps = r.get("fps") or None
        if len(t) > 1 and np.any(np.diff(t) <= 0):
            # Some containers report no position for their last frames; frame numbers are then the clock.
            t = np.arange(len(t)) / (fps or 30.0)
        keep = np.ones(len(t), bool)
        if start_s is not None:
            keep &= t >= start_s
        if end_s is not None:
            keep &= t <= end_s
        seen = keep & (conf > 0).any(-1)
        if not seen.any():
            where = "" if start_s is None and end_s is None else f" between {start_s} s and {end_s} s"
            raise LibraryError(f"no person found in {video}{where}")
        first, last = np.flatnonzero(seen)[[0, -1]]
        s = slice(first, last + 1)
        preview = _video_preview(video, int((first + last) // 2))
        src = f"{video}" + ("" if start_s is None and end_s is None else f"@{t[first]:.2f}-{t[last]:.2f}s")
        return self.add(joints[s], conf[s], t[s], label=label, source=src, fps=fps, preview=preview)

    def import_skeleton_file(self, path: str | Path, label: str | None = None) -> list[int]:
        """Import an NTU ``.skeleton``, NW-UCLA ``.json``, PKU-MMD ``.txt`` or ms2l ``.npz`` clip.

        Returns the new ids (one clip: the most active person).  ``label`` overrides
        the file's own (NW-UCLA action name, ``NTU A011``); PKU-MMD files carry none.
        """
        from pose_adapters.readers import read_ntu_skeleton, read_nwucla, read_pkummd

        path = Path(path)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        if suffix == ".skeleton":
            s = read_ntu_skeleton(path, max_bodies=1)
            if len(s.confidence) == 0 or not (s.confidence[0] > 0).any():
                raise LibraryError(f"{path}: no person in any frame (the file has no tracked body)")
            own = f"NTU A{s.action:03d}" if s.action is not None else None
            return [self.add(s.joints[0], s.confidence[0], None, fps=30.0, label=label or own, source=f"ntu:{s.name}")]
        if suffix == ".json":
            from ms2l.datasets import NWUCLA_FPS

            c = read_nwucla(path)
            if not (c.confidence > 0).any():
                raise LibraryError(f"{path}: no person in any frame")
            return [self.add(c.joints, c.confidence, None, fps=NWUCLA_FPS, label=label or c.label_name,
                             source=f"nw-ucla:{c.name}")]
        if suffix == ".txt":
            c = read_pkummd(path)
            p = int(np.argmax((c.confidence > 0).any(-1).sum(-1)))  # the person present longest
            seen = (c.confidence[p] > 0).any(-1)
            if not seen.any():
                raise LibraryError(f"{path}: no person in any frame")
            return [self.add(c.joints[p], c.confidence[p], None, fps=30.0, label=label, source=f"pku-mmd:{c.name}")]
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
            if "joints" not in d:
                raise LibraryError(f"{path}: no 'joints' array (expected an ms2l skeleton clip)")
            own = str(d["label"]) if "label" in d and str(d["label"]) else None
            fps = float(d["fps"]) if "fps" in d and float(d["fps"]) > 0 else None
            return [self.add(d["joints"], d.get("confidence"), d.get("timestamps"), fps=fps, label=label or own,
                             source=str(path))]
        raise LibraryError(f"{path}: unknown skeleton file type {suffix!r} "
                           "(.skeleton NTU, .json NW-UCLA, .txt PKU-MMD, .npz ms2l clip)")

    def import_files(self, paths: Sequence[str | Path], label: str | None = None,
                     progress: Progress | None = None) -> list[int]:
        """Import skeleton files (see :meth:`import_skeleton_file`), each its own transaction."""
        ids: list[int] = []
        for k, p in enumerate(paths):
            ids += self.import_skeleton_file(p, label)
            if progress:
                progress(k + 1, len(paths))
        return ids

    # -- export / import a dataset folder ------------------------------------------------------------
    def export(self, out: str | Path, *, labels: Sequence[str] | None = None, ids: Iterable[int] | None = None,
               overwrite: bool = False, progress: Progress | None = None) -> dict[str, Any]:
        """Write clips as a dataset folder (format: :data:`EXPORT_README`); returns a summary.

        ``out`` must be empty or missing unless ``overwrite`` (then an earlier export there is replaced).
        """
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise LibraryError(f"{out} exists and is not a folder")
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise LibraryError(f"{out} is not empty: choose an empty folder (or overwrite an earlier export)")
            if not (out / "labels.json").exists():
                raise LibraryError(f"{out} is not an earlier ms2l export: refusing to overwrite it")
        infos = self.list(ids=ids)
        if labels is not None:
            want = {_label(n) for n in labels}
            infos = [i for i in infos if i.label in want]
        (out / "clips").mkdir(parents=True, exist_ok=True)
        rows = []
        for k, info in enumerate(infos):
            clip = self.get(info.id)
            rel = f"clips/clip_{clip.id:06d}.npz"
            target = _inside(out, rel)
            tmp = target.with_name(target.name + ".tmp")
            with open(tmp, "wb") as f:
                np.savez_compressed(f, joints=clip.joints, confidence=clip.confidence, timestamps=clip.timestamps,
                                    fps=np.float64(clip.fps), label=np.str_(clip.label or ""))
            tmp.replace(target)
            prev = ""
            if clip.preview:
                prev = f"previews/clip_{clip.id:06d}.jpg"
                p = _inside(out, prev)
                p.parent.mkdir(exist_ok=True)
                p.write_bytes(clip.preview)
            rows.append({"id": clip.id, "file": rel, "label": clip.label or "", "frames": clip.frames,
                         "fps": f"{clip.fps:.6g}", "duration_s": f"{clip.duration_s:.3f}", "source": clip.source,
                         "created_at": _iso(clip.created_at), "preview": prev})
            if progress:
                progress(k + 1, len(infos))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(INDEX_FIELDS), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        (out / "index.csv").write_text(buf.getvalue())
        names = sorted({r["label"] for r in rows if r["label"]})
        counts = {n: sum(r["label"] == n for r in rows) for n in names}
        doc = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "labels": names, "counts": counts,
               "unlabelled": sum(not r["label"] for r in rows), "clips": len(rows),
               "joints": "ntu25", "units": "metres", "exported_at": _iso(time.time())}
        (out / "labels.json").write_text(json.dumps(doc, indent=2) + "\n")
        (out / "README.md").write_text(EXPORT_README)
        return {"out": str(out), "clips": len(rows), "labels": counts}

    def import_folder(self, folder: str | Path, progress: Progress | None = None) -> list[int]:
        """Import a dataset folder written by :meth:`export` (any tool may write one); returns new ids.

        Every path in ``index.csv`` must stay inside ``folder``; one that escapes it is
        refused before anything is imported.
        """
        folder = Path(folder)
        index = folder / "index.csv"
        if not index.is_file():
            raise LibraryError(f"{folder} has no index.csv: not an exported clip dataset")
        with open(index, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "file" not in rows[0]:
            raise LibraryError(f"{index}: no 'file' column")
        paths = [_inside(folder, r["file"]) for r in rows]  # all checked before the first import
        previews = [_inside(folder, r["preview"]) if r.get("preview") else None for r in rows]
        ids = []
        for k, (row, path, prev) in enumerate(zip(rows, paths, previews)):
            try:
                with np.load(path, allow_pickle=False) as z:
                    d = {key: z[key] for key in z.files}
            except (OSError, ValueError) as e:
                raise LibraryError(f"{path}: cannot read ({e})") from None
            label = row.get("label") or (str(d["label"]) if "label" in d else None) or None
            fps = float(d["fps"]) if "fps" in d else (float(row["fps"]) if row.get("fps") else None)
            ids.append(self.add(d["joints"], d.get("confidence"), d.get("timestamps"), label=label, fps=fps,
                                source=row.get("source") or str(path),
                                preview=prev.read_bytes() if prev is not None and prev.is_file() else None))
            if progress:
                progress(k + 1, len(rows))
        return ids


INDEX_FIELDS = ("id", "file", "label", "frames", "fps", "duration_s", "source", "created_at", "preview")

EXPORT_README = """# ms2l-live clip dataset

Exported by `ms2l clips export` (format `ms2l-clips`, version 1).

- `index.csv`: one row per clip: `id`, `file` (path relative to this folder), `label`
  (empty: unlabelled), `frames` (T), `fps`, `duration_s`, `source`, `created_at`
  (ISO-8601 UTC), `preview` (optional JPEG thumbnail, relative path).
- `labels.json`: `labels` (sorted), `counts` per label, `unlabelled`, `clips`.
- `clips/clip_NNNNNN.npz` (NumPy, no pickles): `joints` float32 `[T, 25, 3]` metres,
  `confidence` float32 `[T, 25]` in [0, 1] (a frame whose row is all 0 has no person),
  `timestamps` float64 `[T]` seconds from 0, `fps` (scalar), `label` (string).

Joints follow the NTU RGB+D 25-joint order, Kinect camera axes (x to the camera's left,
y up, z away from the camera), "left" meaning the subject's left. Read one clip with
`numpy.load(path)`; replay it with `ms2l-live --source clips/clip_000001.npz`; import the
folder into another library with `ms2l clips import-dataset FOLDER`.
"""


def _iso(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def _ids(ids: int | Iterable[int]) -> list[int]:
    return [int(ids)] if isinstance(ids, (int, np.integer)) else [int(i) for i in ids]


class _Transaction:
    """``with lib._tx() as db:`` -- BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib

    def __enter__(self) -> sqlite3.Connection:
        self.lib._lock.acquire()
        try:
            self.lib._db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlocks
        except BaseException:
            self.lib._lock.release()
            raise
        return self.lib._db

    def __exit__(self, etype: Any, e: Any, tb: Any) -> None:
        try:
            if etype is None:
                self.lib._db.execute("COMMIT")
            else:
                self.lib._db.execute("ROLLBACK")
        finally:
            self.lib._lock.release()


def prepare_clip(clip: Clip, config: Any) -> np.ndarray:
    """Model input ``x[T', M, V, C]`` for one library clip: the live path, offline.

    The frames with a person are interpolated by timestamp onto an even grid at
    ``config.fps`` ending at the last of them (:func:`app.buffer.interpolate`, as
    the live window buffer does), then go through :func:`ms2l.preprocess.prepare`.
    """
    from ms2l.preprocess import prepare

    from .buffer import interpolate

    seen = (clip.confidence > 0).any(-1)
    if not seen.any():
        return np.zeros((0, config.persons, config.joints, config.coords), np.float32)
    ts = clip.timestamps[seen]
    n = int(np.floor((ts[-1] - ts[0]) * config.fps + 1e-6)) + 1
    grid = ts[-1] - np.arange(n - 1, -1, -1) / config.fps
    joints, conf = interpolate(ts, clip.joints[seen], clip.confidence[seen], grid)
    return prepare(joints, conf, config, source_fps=config.fps)


def _video_fps(video: Path) -> float | None:
    """The frame rate a video's container declares (None when it does not say)."""
    try:
        import cv2

        cap = cv2.VideoCapture(str(video))
        try:
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            cap.release()
    except Exception:  # noqa: BLE001 - only an optimisation
        return None
    return fps if math.isfinite(fps) and 0 < fps < 1000 else None


def _video_preview(video: Path, index: int) -> bytes | None:
    """A thumbnail of frame ``index`` of ``video`` (None when it cannot be read)."""
    try:
        import cv2

        cap = cv2.VideoCapture(str(video))
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, img = cap.read()
        finally:
            cap.release()
        return make_preview(img) if ok and img is not None else None
    except Exception:  # noqa: BLE001 - a preview is optional; the clip matters
        return None
