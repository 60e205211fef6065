"""Clips out: a dataset folder other tools can read (``index.csv``, ``labels.json``, one ``.npz`` per clip)."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from pose_adapters.clipfile import SkeletonClip, write_clip

from ..errors import LibraryError
from .arrays import clean_label, inside

if TYPE_CHECKING:
    from .store import ClipStore, Progress

EXPORT_FORMAT = "ms2l-clips"
EXPORT_VERSION = 2  # 2: the persons column; a pair's arrays are [2, T, 25, 3]


class ExportMixin:
    """Export method of :class:`app.clips.library.Library`."""

    def export(self: ClipStore, out: str | Path, *, labels: Sequence[str] | None = None, ids: Iterable[int] | None = None,
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
            want = {clean_label(n) for n in labels}
            infos = [i for i in infos if i.label in want]
        (out / "clips").mkdir(parents=True, exist_ok=True)
        rows = []
        for k, info in enumerate(infos):
            clip = self.get(info.id)
            rel = f"clips/clip_{clip.id:06d}.npz"
            write_clip(inside(out, rel), SkeletonClip(clip.joints, clip.confidence, clip.timestamps, clip.fps,
                                                      clip.label))
            prev = ""
            if clip.preview:
                prev = f"previews/clip_{clip.id:06d}.jpg"
                p = inside(out, prev)
                p.parent.mkdir(exist_ok=True)
                p.write_bytes(clip.preview)
            rows.append({"id": clip.id, "file": rel, "label": clip.label or "", "frames": clip.frames,
                         "persons": clip.persons,
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


INDEX_FIELDS = ("id", "file", "label", "frames", "persons", "fps", "duration_s", "source", "created_at", "preview")

EXPORT_README = """# ms2l-live clip dataset

Exported by `ms2l clips export` (format `ms2l-clips`, version 2).

- `index.csv`: one row per clip: `id`, `file` (path relative to this folder), `label`
  (empty: unlabelled), `frames` (T), `persons` (M: 1, or 2 for a two-person clip), `fps`,
  `duration_s`, `source`, `created_at` (ISO-8601 UTC), `preview` (optional JPEG thumbnail,
  relative path).
- `labels.json`: `labels` (sorted), `counts` per label, `unlabelled`, `clips`.
- `clips/clip_NNNNNN.npz` (NumPy, no pickles): `joints` float32 `[T, 25, 3]` metres,
  `confidence` float32 `[T, 25]` in [0, 1] (a frame whose row is all 0 has no person),
  `timestamps` float64 `[T]` seconds from 0, `fps` (scalar), `label` (string). A
  two-person clip has `joints` `[2, T, 25, 3]` and `confidence` `[2, T, 25]` (a person
  missing from a frame has confidence 0 there). Version 1 had no `persons` and one person.

Joints follow the NTU RGB+D 25-joint order, Kinect camera axes (x to the camera's left,
y up, z away from the camera), "left" meaning the subject's left. Read one clip with
`numpy.load(path)`; replay a clip (a pair too) with `ms2l-live --source clips/clip_000001.npz`; import the
folder into another library with `ms2l clips import-dataset FOLDER`.
"""


def _iso(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")
