"""Getting clips in: pose extraction from a video, skeleton files of every readable format, and
dataset folders written by :mod:`.export` (each clip its own transaction)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from pose_adapters.clipfile import read_clip
from pose_adapters.readers import SkeletonFileError

from ..errors import LibraryError
from .arrays import inside, make_preview

if TYPE_CHECKING:
    from .store import ClipStore, Progress


class ImportMixin:
    """Import methods of :class:`app.clips.library.Library` (they store through ``self.add``)."""

    # -- import --------------------------------------------------------------------------------------
    def import_video(self: ClipStore, video: str | Path, label: str | None, *, mirrored: bool = False,
                     start_s: float | None = None, end_s: float | None = None, max_frames: int | None = None,
                     progress: Progress | None = None, extract: Callable[..., dict] | None = None) -> int:
        """Run pose extraction (MediaPipe) on ``video`` and store it as one clip; returns its id.

        ``start_s``/``end_s`` keep only that stretch (media time); frames before the
        first and after the last with a person are dropped.  ``progress(done, total)``
        after every frame; an exception it raises cancels the import (nothing is stored).
        """
        video = Path(video)
        if extract is None:
            from ..live.extract import extract_video as extract
        if end_s is not None:
            # No need to run the pose estimator past the stretch (frames count from 0 at 0 s).
            rate = _video_fps(video)
            if rate:
                need = int(math.ceil((end_s + 1.0) * rate)) + 1
                max_frames = need if max_frames is None else min(max_frames, need)
        r = extract(video, mirrored=mirrored, max_frames=max_frames, progress=False, on_frame=progress)
        joints, conf, t = r["joints"], r["confidence"], np.asarray(r["timestamps"], np.float64)
        fps = r.get("fps") or None
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

    def import_skeleton_file(self: ClipStore, path: str | Path, label: str | None = None,
                             persons: int | None = None) -> list[int]:
        """Import one skeleton file of any readable format; returns the new ids (one clip).

        NTU ``.skeleton``, NW-UCLA ``.json``, UTD-MHAD ``.mat``, SBU ``skeleton_pos.txt``,
        PKU-MMD ``.txt``, BVH ``.bvh`` (CMU's Character Creator rig and others) and ms2l
        ``.npz``.  A file showing two people gives a two-person clip (``persons`` 2: SBU
        always, an NTU file with two real bodies -- not the sensor's short-lived or wide
        noise bodies -- a PKU-MMD file with both slots used, a two-person ``.npz``).
        ``persons=1`` keeps only the most active person of such a file (SBU: the one who
        moves most; NTU: the reader's top body; PKU-MMD: the one present longest);
        ``persons=2`` insists on two (a file showing one is refused).  ``label`` overrides
        the file's own (NW-UCLA, UTD-MHAD and SBU action names, ``NTU A011``); PKU-MMD and
        BVH files carry none.  The frame rate is the reader's (the file's for BVH).  A
        malformed file raises before anything is stored.
        """
        from pose_adapters.readers import (
            read_bvh_skeleton, read_ntu_skeleton, read_nwucla, read_pkummd, read_sbu, read_utd,
        )

        if persons not in (None, 1, 2):
            raise LibraryError(f"persons must be 1 or 2 (or None: as the file shows), got {persons!r}")
        path = Path(path)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        if suffix == ".skeleton":
            s = read_ntu_skeleton(path, max_bodies=1 if persons == 1 else 2)
            if len(s.confidence) == 0 or not (s.confidence > 0).any():
                raise LibraryError(f"{path}: no person in any frame (the file has no tracked body)")
            if persons is None and len(s.chosen) > 1 and not all(_ntu_person(s.bodies[b]) for b in s.chosen):
                s = read_ntu_skeleton(path, max_bodies=1)  # one person and sensor noise: the reader's top body
            j, c = _keep(path, s.joints, s.confidence, persons, lambda: 0)
            own = f"NTU A{s.action:03d}" if s.action is not None else None
            return [self.add(j, c, None, fps=30.0, label=label or own, source=f"ntu:{s.name}")]
        if suffix == ".json":
            from ms2l.data import NWUCLA_FPS

            c = read_nwucla(path)
            if not (c.confidence > 0).any():
                raise LibraryError(f"{path}: no person in any frame")
            _keep(path, c.joints[None], c.confidence[None], persons, lambda: 0)
            return [self.add(c.joints, c.confidence, None, fps=NWUCLA_FPS, label=label or c.label_name,
                             source=f"nw-ucla:{c.name}")]
        if suffix == ".mat":
            u = read_utd(path)
            _keep(path, u.joints[None], u.confidence[None], persons, lambda: 0)
            return [self.add(u.joints, u.confidence, None, fps=u.fps, label=label or u.label_name,
                             source=f"utd-mhad:{u.name}")]
        if suffix == ".txt" and _is_sbu(path):
            # The reader takes pair, class and take from the folders: give it the whole path (links kept as named).
            b = read_sbu(path.absolute())
            p = _most_active(b.joints, b.confidence)
            j, c = _keep(path, b.joints, b.confidence, persons, lambda: p)
            src = f"sbu:{b.name}" + (f"#p{p + 1}" if j.ndim == 3 else "")
            return [self.add(j, c, None, fps=b.fps, label=label or b.label_name, source=src)]
        if suffix == ".txt":
            c = read_pkummd(path)
            if not (c.confidence > 0).any():
                raise LibraryError(f"{path}: no person in any frame")
            longest = lambda: int(np.argmax((c.confidence > 0).any(-1).sum(-1)))  # noqa: E731 - present longest
            j, conf = _keep(path, c.joints, c.confidence, persons, longest)
            return [self.add(j, conf, None, fps=30.0, label=label, source=f"pku-mmd:{c.name}")]
        if suffix == ".bvh":
            motion, joints, confidence = read_bvh_skeleton(path)
            _keep(path, joints[None], confidence[None], persons, lambda: 0)
            return [self.add(joints, confidence, None, fps=motion.fps, label=label, source=f"bvh:{path.stem}")]
        if suffix == ".npz":
            clip = read_clip(path, multi=True)
            j, c = clip.joints, clip.confidence
            if j.ndim == 4:
                j, c = _keep(path, j, c, persons, lambda: _most_active(clip.joints, clip.confidence))
            else:
                _keep(path, j[None], c[None], persons, lambda: 0)
            return [self.add(j, c, clip.timestamps, fps=clip.fps or None, label=label or clip.label,
                             source=str(path))]
        raise LibraryError(f"{path}: unknown skeleton file type {suffix!r} "
                           "(.skeleton NTU, .json NW-UCLA, .mat UTD-MHAD, .txt SBU skeleton_pos.txt or PKU-MMD, "
                           ".bvh motion capture, .npz ms2l clip)")

    def import_files(self: ClipStore, paths: Sequence[str | Path], label: str | None = None,
                     progress: Progress | None = None, persons: int | None = None) -> list[int]:
        """Import skeleton files (see :meth:`import_skeleton_file`), each its own transaction."""
        ids: list[int] = []
        for k, p in enumerate(paths):
            ids += self.import_skeleton_file(p, label, persons)
            if progress:
                progress(k + 1, len(paths))
        return ids

    def import_folder(self: ClipStore, folder: str | Path, progress: Progress | None = None) -> list[int]:
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
        paths = [inside(folder, r["file"]) for r in rows]  # all checked before the first import
        previews = [inside(folder, r["preview"]) if r.get("preview") else None for r in rows]
        ids = []
        for k, (row, path, prev) in enumerate(zip(rows, paths, previews)):
            try:
                clip = read_clip(path, multi=True)  # a pair stays a pair
            except SkeletonFileError as e:
                raise LibraryError(f"{path}: cannot read ({e.problem})") from None
            label = row.get("label") or clip.label or None
            fps = clip.fps or (float(row["fps"]) if row.get("fps") else None)
            ids.append(self.add(clip.joints, clip.confidence, clip.timestamps, label=label, fps=fps,
                                source=row.get("source") or str(path),
                                preview=prev.read_bytes() if prev is not None and prev.is_file() else None))
            if progress:
                progress(k + 1, len(rows))
        return ids


#: Fields per line: SBU (frame number + 2 persons x 15 joints x 3, commas) and PKU-MMD (2 x 25 x 3, spaces).
SBU_FIELDS, PKUMMD_FIELDS = 91, 150


def _is_sbu(path: Path) -> bool:
    """SBU's ``skeleton_pos.txt`` rather than a PKU-MMD ``.txt``: by its name, else by its first line.

    SBU lines hold 91 comma-separated fields, PKU-MMD lines 150 space-separated numbers.
    """
    if path.name.lower() == "skeleton_pos.txt":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(16384).decode("utf-8", errors="replace")
    except OSError:
        return False  # the PKU-MMD reader reports the problem
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    return len(first.strip().rstrip(",").split(",")) == SBU_FIELDS


def _ntu_person(body: object) -> bool:
    """Whether an NTU body is a person by the reader's own noise rules (seen long enough, not wide)."""
    from pose_adapters.readers.ntu import MAX_SPREAD_RATIO, MIN_BODY_FRAMES

    return len(body.frames) >= MIN_BODY_FRAMES and body.spread_ratio <= MAX_SPREAD_RATIO  # type: ignore[attr-defined]


def _keep(path: Path, joints: np.ndarray, confidence: np.ndarray, persons: int | None,
          pick_one: Callable[[], int]) -> tuple[np.ndarray, np.ndarray]:
    """The persons to store of ``joints[M, T, V, C]``: those seen in some frame (at most two), or
    ``persons`` of them (1: ``pick_one()``'s); ``[T, V, C]`` for one person, ``[2, T, V, C]`` for a pair."""
    present = [m for m in range(len(joints)) if (confidence[m] > 0).any()][:2] or [0]
    if persons == 2 and len(present) < 2:
        raise LibraryError(f"{path}: shows one person, not two")
    if persons == 1 or len(present) == 1:
        m = pick_one() if persons == 1 else present[0]
        return joints[m], confidence[m]
    return joints[present], confidence[present]


def _most_active(joints: np.ndarray, confidence: np.ndarray) -> int:
    """Index of the person who moves most: summed frame-to-frame joint travel (``joints[M, T, V, C]``)."""
    seen = confidence > 0
    both = seen[:, 1:] & seen[:, :-1]
    step = np.linalg.norm(np.diff(joints, axis=1), axis=-1)
    return int(np.argmax(np.where(both, step, 0.0).sum(axis=(1, 2))))


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
