"""The clip library: the user's own recorded and imported skeleton clips (Qt-free).

One SQLite database, ``<library dir>/clips.sqlite3``; the directory defaults to
``platformdirs.user_data_dir("ms2l-live")/library`` and is overridden by
``--library DIR`` (or ``MS2L_LIBRARY``).  Each clip is one row:

==============  =====================================================================
``label``       action name, or NULL for an unlabelled clip (still used by ``joint``)
``frames``      ``T``
``persons``     ``M``: 1, or 2 for a pair (a two-person action); :attr:`Clip.joints` is
                ``[T, 25, 3]`` for one person and ``[M, T, 25, 3]`` for more
``joints``      ``[M, T, 25, 3]`` float32 little-endian, metres, the project convention
``confidence``  ``[M, T, 25]`` float32 in [0, 1]; a frame whose rows are all 0 has no person
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
forward, in one transaction, when an older library is opened (a failed or
interrupted migration leaves the file as it was).

This module is the store itself; importers (:mod:`.importers`), export
(:mod:`.export`) and training data (:mod:`.training`) build on it, and
:class:`app.clips.library.Library` puts them together.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import LibraryError
from ..paths import library_dir as default_library_dir
from .arrays import V, check_arrays, clean_label, frames_of, persons_of

DB_NAME = "clips.sqlite3"
SCHEMA_VERSION = 3

Progress = Callable[[int, int], None]  # (done, total); total 0 when unknown


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

#: Version 3: ``persons`` (M), and blob checks that scale with it (a pair is ``[2, T, 25, 3]``).
_CLIPS_V3 = """
CREATE TABLE clips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT CHECK (label IS NULL OR length(trim(label)) > 0),
    frames INTEGER NOT NULL CHECK (frames > 0),
    persons INTEGER NOT NULL DEFAULT 1 CHECK (persons >= 1),
    joints BLOB NOT NULL CHECK (length(joints) = persons * frames * 300),
    confidence BLOB NOT NULL CHECK (length(confidence) = persons * frames * 100),
    timestamps BLOB NOT NULL CHECK (length(timestamps) = frames * 8),
    fps REAL NOT NULL CHECK (fps > 0),
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    preview BLOB,
    deleted_at REAL
);
CREATE INDEX clips_label ON clips (label, deleted_at);
"""

SCHEMA_V3 = "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL);\n" + _CLIPS_V3
SCHEMA = SCHEMA_V3  # what a new library is created with


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run ``;``-separated DDL inside the open transaction (``executescript`` would commit it)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _sequence(db: sqlite3.Connection, table: str) -> int | None:
    """The AUTOINCREMENT high-water mark of ``table`` (None before its first insert)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return None if row is None else int(row[0])


def _keep_sequence(db: sqlite3.Connection, seq: int | None) -> None:
    """Give the rebuilt ``clips`` table the old table's high-water mark, so that an id purged before
    the migration is never handed out again (an undo can never hit a newer clip)."""
    if seq is None:
        return
    if db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'clips'", (seq,)).rowcount == 0:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('clips', ?)", (seq,))


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """float32 -> float64 timestamps, ISO -> Unix created_at, preview and deleted_at columns, checks."""
    from datetime import datetime, timezone

    seq = _sequence(db, "clips")
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
    _keep_sequence(db, seq)


_V2_COLUMNS = "id, label, frames, joints, confidence, timestamps, fps, source, created_at, preview, deleted_at"


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """A ``persons`` column; the blob checks scale with it.

    Every version-2 clip holds exactly one person: the v2 checks (``length(joints) =
    frames * 300``) admit nothing else, so ``persons = 1`` is what each stored array says,
    known without decoding one.  The blobs are copied unchanged (one person's ``[T, 25, 3]``
    is the same bytes as ``[1, T, 25, 3]``) inside SQLite, and the v3 checks verify every row
    as it goes in.  A row whose sizes break the v2 checks (a damaged file) stops the
    migration with its ids, and the file stays a version-2 library.
    """
    bad = [r[0] for r in db.execute("SELECT id FROM clips WHERE length(joints) != frames * 300 "
                                    "OR length(confidence) != frames * 100 OR length(timestamps) != frames * 8 "
                                    "ORDER BY id")]
    if bad:
        raise LibraryError(f"clip(s) {', '.join(map(str, bad[:10]))}{' …' if len(bad) > 10 else ''}: array sizes "
                           "do not match their frame counts; the library was left unchanged (version 2)")
    seq = _sequence(db, "clips")
    db.execute("ALTER TABLE clips RENAME TO clips_v2")
    db.execute("DROP INDEX IF EXISTS clips_label")  # it moved with the table; the new table gets its own
    _script(db, _CLIPS_V3)
    db.execute(f"INSERT INTO clips ({_V2_COLUMNS}, persons) SELECT {_V2_COLUMNS}, 1 FROM clips_v2 ORDER BY id")
    db.execute("DROP TABLE clips_v2")
    _keep_sequence(db, seq)


#: ``MIGRATIONS[v]`` turns a version-``v`` database into version ``v + 1`` (inside one transaction).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3}


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
    persons: int = 1


@dataclass(frozen=True)
class Clip:
    """One clip: ``joints[T, 25, 3]`` float32, ``confidence[T, 25]`` float32, ``timestamps[T]`` float64 s;
    a clip of ``M >= 2`` persons (a pair) has ``joints[M, T, 25, 3]`` and ``confidence[M, T, 25]``."""

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
    def persons(self) -> int:
        return persons_of(self.joints)

    @property
    def duration_s(self) -> float:
        return float(self.timestamps[-1] - self.timestamps[0]) if self.frames > 1 else 0.0


# --- the store -----------------------------------------------------------------------------------

class ClipStore:
    """The clip database in ``root`` (created when missing).  Thread-safe: one connection, one lock.

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
        except BaseException:
            self._db.close()
            raise

    # -- plumbing ------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "ClipStore":
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
                _script(db, SCHEMA)
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
        for cid, frames, m, j, c, t in self._query("SELECT id, frames, persons, joints, confidence, timestamps "
                                                   "FROM clips"):
            if len(j) != m * frames * V * 12 or len(c) != m * frames * V * 4 or len(t) != frames * 8:
                problems.append(f"clip {cid}: array sizes do not match {frames} frames of {m} person(s)")
        return problems

    # -- writing -------------------------------------------------------------------------------------
    def add(self, joints: np.ndarray, confidence: np.ndarray | None = None, timestamps: np.ndarray | None = None, *,
            label: str | None = None, source: str = "", fps: float | None = None, preview: bytes | None = None,
            created_at: float | None = None) -> int:
        """Store one clip (``joints[T, 25, 3]``, ``confidence[T, 25]``, ``timestamps[T]`` s) in one transaction.

        A clip of several persons (a pair) is ``joints[M, T, 25, 3]``, ``confidence[M, T, 25]``.
        Returns its id.  See :func:`check_arrays` for what is accepted.
        """
        j, c, t, fps = check_arrays(joints, confidence, timestamps, fps)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO clips (label, frames, persons, joints, confidence, timestamps, fps, source, created_at, "
                "preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (clean_label(label), len(t), persons_of(j), j.astype("<f4").tobytes(), c.astype("<f4").tobytes(),
                 t.astype("<f8").tobytes(), fps, str(source), time.time() if created_at is None else created_at,
                 preview))
            return int(cur.lastrowid)

    def relabel(self, ids: int | Iterable[int], label: str | None) -> int:
        """Give clips a new label (None: unlabelled); returns how many changed."""
        ids = _ids(ids)
        with self._tx() as db:
            n = sum(db.execute("UPDATE clips SET label = ? WHERE id = ?", (clean_label(label), i)).rowcount for i in ids)
        return n

    def rename_label(self, old: str, new: str | None) -> int:
        """Relabel every clip of ``old`` (kept or deleted) as ``new``; returns how many changed."""
        with self._tx() as db:
            return db.execute("UPDATE clips SET label = ? WHERE label = ?", (clean_label(new), clean_label(old))).rowcount

    def trim(self, clip_id: int, start: int, end: int) -> ClipInfo:
        """Keep frames ``start:end`` (Python slice semantics, at least one frame) of a clip."""
        clip = self.get(clip_id)
        idx = range(clip.frames)[start:end]
        if len(idx) == 0:
            raise LibraryError(f"trim {start}:{end} leaves no frame of clip {clip_id} ({clip.frames} frames)")
        s = slice(idx.start, idx.stop)
        m = clip.persons
        j, c, t, _ = check_arrays(frames_of(clip.joints, s, m), frames_of(clip.confidence, s, m), clip.timestamps[s],
                                  clip.fps)
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
    _INFO = "id, label, frames, fps, timestamps, source, created_at, preview IS NOT NULL, deleted_at, persons"

    @staticmethod
    def _info(row: tuple) -> ClipInfo:
        cid, label, frames, fps, ts, source, created, has_prev, deleted, persons = row
        t = np.frombuffer(ts, "<f8")
        return ClipInfo(int(cid), label, int(frames), float(fps), float(t[-1] - t[0]) if len(t) > 1 else 0.0,
                        source, float(created), bool(has_prev), deleted, int(persons))

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
            args.append(clean_label(label))
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
        rows = self._query("SELECT id, label, frames, persons, joints, confidence, timestamps, fps, source, "
                           "created_at, preview FROM clips WHERE id = ?", (int(clip_id),))
        if not rows:
            raise LibraryError(f"no clip {clip_id} in {self.root}")
        cid, label, T, M, j, c, t, fps, source, created, preview = rows[0]
        lead = (T,) if M == 1 else (M, T)
        return Clip(int(cid), label, np.frombuffer(j, "<f4").reshape(*lead, V, 3).astype(np.float32),
                    np.frombuffer(c, "<f4").reshape(*lead, V).astype(np.float32),
                    np.frombuffer(t, "<f8").astype(np.float64), float(fps), source, float(created), preview)

    def clips(self, infos: Iterable[ClipInfo] | None = None) -> Iterator[Clip]:
        for info in (self.list() if infos is None else infos):
            yield self.get(info.id)

def _ids(ids: int | Iterable[int]) -> list[int]:
    return [int(ids)] if isinstance(ids, (int, np.integer)) else [int(i) for i in ids]


class _Transaction:
    """``with lib._tx() as db:`` -- BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, lib: ClipStore) -> None:
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
