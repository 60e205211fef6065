"""``ms2l clips``: the clip library from the command line, and ``ms2l train|evaluate --library``.

    ms2l clips import VIDEO... --label wave [--library DIR]     # pose extraction, one clip per video
    ms2l clips import a01_s01_e00_v01.json S001C001P001R001A011.skeleton   # skeleton files keep their labels
    ms2l clips import a3_s1_t1_skeleton.mat s01s02/05/001/skeleton_pos.txt # UTD-MHAD, SBU (a two-person clip)
    ms2l clips import s01s02/05/001/skeleton_pos.txt --persons 1  # only the more active person of a pair
    ms2l clips import 002_01.bvh --label walk                    # motion capture (BVH files carry no label)
    ms2l clips import EXPORTED_FOLDER                            # a folder written by `clips export`
    ms2l clips list [--label L] [--deleted] [--json]
    ms2l clips relabel ID... --label L | trim ID --start F --end F
    ms2l clips delete ID... [--undo] | ms2l clips purge
    ms2l clips export OUT [--label L ...]
    ms2l train --library DIR --strategy finetune --encoder default --out mine.safetensors
    ms2l evaluate --model mine.safetensors --library DIR

Every command prints a JSON summary on stdout (``list`` prints a table unless ``--json``).
The library lives in the user's data folder unless ``--library DIR`` (or ``MS2L_LIBRARY``) says otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ms2l.checkpoint import write_text_atomic

from ..clips import Library, LibraryError

SKELETON_SUFFIXES = (".skeleton", ".json", ".mat", ".txt", ".bvh", ".npz")


def _library(a: argparse.Namespace, create: bool = True) -> Library:
    lib = Library(a.library, create=create)
    _open.append(lib)
    return lib


_open: list[Library] = []  # closed when the command returns (see _closing)


def _closing(fn):  # noqa: ANN001, ANN202 - decorator for the command handlers
    """Close the libraries a command opened, however it ends."""
    def run(a: argparse.Namespace) -> int:
        try:
            return fn(a)
        finally:
            while _open:
                _open.pop().close()
    run.__doc__ = fn.__doc__
    return run


def _print(obj: Any) -> None:
    print(json.dumps(obj))


def _bar(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", disable=quiet, file=sys.stderr, leave=False)


@_closing
def cmd_import(a: argparse.Namespace) -> int:
    from ..errors import VideoError

    lib = _library(a)
    ids: list[int] = []
    t0 = time.perf_counter()
    for item in a.paths:
        p = Path(item)
        if p.is_dir():
            ids += lib.import_folder(p)
        elif p.suffix.lower() in SKELETON_SUFFIXES:
            ids += lib.import_skeleton_file(p, a.label, a.persons)
        else:
            if not a.label and not a.unlabelled:
                raise LibraryError(f"{p}: say what the video shows with --label L (or --unlabelled)")
            if a.persons == 2:
                raise LibraryError(f"{p}: pose extraction from a video gives one person's clip; --persons 2 is for "
                                   "skeleton files (record a pair in ms2l-live)")
            with _bar(0, f"extract {p.name}", a.quiet) as bar:
                def on_frame(done: int, total: int) -> None:
                    if total and bar.total != total:
                        bar.total = total
                    bar.update(done - bar.n)
                try:
                    ids.append(lib.import_video(p, a.label, mirrored=a.mirrored, start_s=a.start, end_s=a.end,
                                                max_frames=a.max_frames, progress=on_frame))
                except VideoError as e:  # an unreadable video is bad input, not a crash
                    raise LibraryError(str(e)) from None
        print(f"imported {p}", file=sys.stderr)
    infos = lib.list(ids=ids)
    _print({"command": "clips import", "library": str(lib.root), "ids": ids,
            "clips": [{"id": i.id, "label": i.label, "frames": i.frames, "persons": i.persons, "fps": round(i.fps, 3),
                       "duration_s": round(i.duration_s, 3), "source": i.source} for i in infos],
            "labels": lib.labels(), "wall_s": time.perf_counter() - t0})
    return 0


@_closing
def cmd_list(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    label: Any = ... if a.label is None else (None if a.label == "" else a.label)
    infos = lib.list(label, deleted=a.deleted)
    if a.json:
        _print({"library": str(lib.root), "labels": lib.labels(), "unlabelled": lib.unlabelled_count(),
                "clips": [i.__dict__ for i in infos]})
        return 0
    print(f"{lib.root}: {len(lib)} clips" + (f", {len(infos)} in the bin" if a.deleted else ""))
    for name, n in lib.labels().items():
        print(f"  {name:<28} {n:>4} clips")
    if lib.unlabelled_count():
        print(f"  {'(unlabelled)':<28} {lib.unlabelled_count():>4} clips")
    print()
    print(f"{'id':>6}  {'label':<24} {'frames':>6} {'persons':>7} {'fps':>6} {'seconds':>8}  source")
    for i in infos:
        print(f"{i.id:>6}  {(i.label or '–'):<24} {i.frames:>6} {i.persons:>7} {i.fps:>6.1f} {i.duration_s:>8.2f}  "
              f"{i.source}")
    return 0


@_closing
def cmd_relabel(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    n = lib.relabel(a.ids, None if a.unlabelled else a.label)
    _print({"command": "clips relabel", "changed": n, "labels": lib.labels()})
    return 0 if n == len(a.ids) else 1


@_closing
def cmd_trim(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    info = lib.trim(a.id, a.start, a.end)
    _print({"command": "clips trim", "id": info.id, "frames": info.frames, "duration_s": info.duration_s})
    return 0


@_closing
def cmd_delete(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    if a.undo:
        done = lib.undelete(a.ids)
        _print({"command": "clips delete --undo", "restored": done})
    else:
        done = lib.delete(a.ids)
        _print({"command": "clips delete", "deleted": done,
                "undo": "ms2l clips delete --undo " + " ".join(map(str, done)) if done else None})
    missing = sorted(set(a.ids) - set(done))
    if missing:
        print(f"ms2l clips delete: no {'deleted ' if a.undo else ''}clip with id {', '.join(map(str, missing))}",
              file=sys.stderr)
        return 1
    return 0


@_closing
def cmd_purge(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    _print({"command": "clips purge", "purged": lib.purge()})
    return 0


@_closing
def cmd_export(a: argparse.Namespace) -> int:
    lib = _library(a, create=False)
    summary = lib.export(a.out, labels=a.labels, overwrite=a.overwrite)
    _print({"command": "clips export", **summary})
    return 0


def add_commands(sub: Any) -> None:
    """Register ``ms2l clips`` and its sub-commands."""
    c = sub.add_parser("clips", help="your clip library: import, list, relabel, trim, delete, export",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = c.add_subparsers(dest="clips_command", metavar="ACTION", required=True)

    def lib_arg(q: argparse.ArgumentParser) -> None:
        q.add_argument("--library", type=Path, metavar="DIR",
                       help="library folder (default: MS2L_LIBRARY, else the user's data folder)")

    q = csub.add_parser("import", help="add clips from videos (pose extraction), skeleton files or an exported folder")
    q.add_argument("paths", nargs="+", metavar="PATH",
                   help="video files; skeleton files: NTU .skeleton, NW-UCLA .json, UTD-MHAD .mat, SBU skeleton_pos.txt, "
                        "PKU-MMD .txt, motion-capture .bvh (CMU and others) or ms2l .npz clips; exported folders")
    q.add_argument("--label", help="the action shown (videos need it; overrides a skeleton file's own label)")
    q.add_argument("--unlabelled", action="store_true", help="import videos without a label (for joint training)")
    q.add_argument("--mirrored", action="store_true", help="the video is a mirror image (selfie camera)")
    q.add_argument("--start", type=float, metavar="S", help="videos: keep from this media time (seconds)")
    q.add_argument("--end", type=float, metavar="S", help="videos: keep up to this media time (seconds)")
    q.add_argument("--max-frames", type=int, metavar="N", help="videos: read at most N frames")
    q.add_argument("--persons", type=int, choices=(1, 2), default=None,
                   help="skeleton files: 1 keeps only the most active person of a two-person file, 2 refuses a "
                        "file showing one (default: as many as the file shows -- SBU and two-body NTU files give "
                        "two-person clips)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    lib_arg(q)
    q.set_defaults(func=cmd_import)

    q = csub.add_parser("list", help="clips per label and every clip")
    q.add_argument("--label", help="only this label ('' for the unlabelled clips)")
    q.add_argument("--deleted", action="store_true", help="list the bin (deleted clips) instead")
    q.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    lib_arg(q)
    q.set_defaults(func=cmd_list)

    q = csub.add_parser("relabel", help="give clips another label")
    q.add_argument("ids", nargs="+", type=int, metavar="ID")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--label")
    g.add_argument("--unlabelled", action="store_true")
    lib_arg(q)
    q.set_defaults(func=cmd_relabel)

    q = csub.add_parser("trim", help="keep frames START..END-1 of a clip")
    q.add_argument("id", type=int, metavar="ID")
    q.add_argument("--start", type=int, default=0, help="first frame kept (default 0)")
    q.add_argument("--end", type=int, default=None, help="frame after the last kept (negative counts from the end)")
    lib_arg(q)
    q.set_defaults(func=cmd_trim)

    q = csub.add_parser("delete", help="move clips to the bin (--undo brings them back)")
    q.add_argument("ids", nargs="+", type=int, metavar="ID")
    q.add_argument("--undo", action="store_true", help="restore these clips from the bin")
    lib_arg(q)
    q.set_defaults(func=cmd_delete)

    q = csub.add_parser("purge", help="empty the bin for good")
    lib_arg(q)
    q.set_defaults(func=cmd_purge)

    q = csub.add_parser("export", help="write the library as a dataset folder (index.csv, labels.json, .npz clips)")
    q.add_argument("out", type=Path, metavar="OUT", help="an empty or new folder")
    q.add_argument("--label", dest="labels", action="append", help="only this label (repeatable)")
    q.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUT")
    lib_arg(q)
    q.set_defaults(func=cmd_export)


# --- ms2l train / evaluate --library ---------------------------------------------------------------

def cmd_train_library(a: argparse.Namespace) -> int:
    """``ms2l train --library DIR``: :func:`app.finetune.run_finetune` with the command's options."""
    from ..finetune import STRATEGIES, FinetuneSpec, format_confusion, run_finetune

    if a.strategy not in STRATEGIES:
        raise LibraryError(f"--strategy {a.strategy} is not available with --library; choose from {', '.join(STRATEGIES)}")
    if getattr(a, "calibrate_by", "clip") != "clip":
        raise LibraryError("--calibrate-by subject needs clips that know who is in them; a clip library does not "
                           "record that (with fewer than 5 clips of an action, Train sets the threshold by "
                           "cross-validation anyway): drop --calibrate-by")
    labels = tuple(s.strip() for s in a.labels.split(",") if s.strip()) if getattr(a, "labels", None) else None
    spec = FinetuneSpec(labels=labels, strategy=a.strategy, encoder=str(a.encoder or "default"), epochs=a.epochs,
                        lr=a.lr, val_fraction=a.val_fraction, seed=a.seed, device=a.device, tasks=a.tasks,
                        cv=getattr(a, "cv", "auto"), soup=getattr(a, "soup", 1))
    from tqdm import tqdm

    with tqdm(total=None, desc=f"train ({a.strategy})", unit="epoch", file=sys.stderr) as bar:
        def progress(ev: dict[str, Any]) -> None:
            if ev.get("phase") == "train":
                bar.total = ev["epochs"]
                bar.update(ev["epoch"] - bar.n)
                bar.set_postfix(loss=f"{ev.get('loss', 0):.3f}", acc=f"{ev.get('train_acc', 0):.0f}")
            elif ev.get("message"):
                bar.set_description(ev["message"].rstrip("…"))
        result = run_finetune(spec, a.library, out=a.out, progress=progress)
    val = result.validation
    summary = {"command": "train", "library": str(a.library), "model": str(result.model_path),
               "card": str(result.card_path), "strategy": a.strategy, "labels": list(result.labels),
               "clips": result.n_train, "validation_clips": result.n_val, "unlabelled_clips": result.n_unlabelled,
               "validation_top1": val["top1"] if val else None, "train_top1": result.train["top1"],
               "wall_s": result.train_seconds, "history": result.history}
    write_text_atomic(result.model_path.with_suffix(".json"),
                      json.dumps(summary | {"validation": val, "train": result.train}, indent=2) + "\n")
    if val:
        print(format_confusion(val), file=sys.stderr)
    print(f"model written to {result.model_path}"
          + (f" (validation top-1 {val['top1']:.1f} % on {val['n']} clips)" if val else ""), file=sys.stderr)
    return 0


def cmd_evaluate_library(a: argparse.Namespace) -> int:
    """``ms2l evaluate --library DIR``: the model on every library clip of its labels."""
    from ms2l.checkpoint import load_model
    from ms2l.device import resolve_device
    from ms2l.evaluate import evaluate

    device = resolve_device(a.device)
    model, _ = load_model(a.model, device)
    if model.classifier is None:
        raise LibraryError(f"{a.model} is an encoder without a classifier; train one with `ms2l train`")
    with Library(a.library, create=False) as lib:
        labels = model.config.labels
        clips = lib.clipset(model.config, labels)
        other = sorted(set(lib.labels()) - set(labels))
    if len(clips) == 0:
        raise LibraryError(f"the library at {lib.root} has no clips labelled with this model's labels "
                           f"({', '.join(labels)})")
    t0 = time.perf_counter()
    result = evaluate(model, clips, device)
    result |= {"model": str(a.model), "library": str(lib.root), "split": "library", "clip_ids": clips.meta["id"].tolist(),
               "labels_not_in_model": other, "seconds": time.perf_counter() - t0}
    from ms2l.cli import report_evaluation

    report_evaluation(result, a.out, a.json, "library clips")
    if not a.json:
        if other:
            print(f"  (not evaluated: clips labelled {', '.join(other)}, which this model does not know)")
    return 0
