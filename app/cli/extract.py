"""``ms2l extract``: run the pose estimator on a video and save skeletons in the convention.

Writes ``FILE.npz`` (the skeleton-clip format, :mod:`pose_adapters.clipfile`):
``joints`` (T, 25, 3) float32 metres, ``confidence`` (T, 25) float32 and
``timestamps`` (T,) float64 seconds -- one row per decoded frame; a frame without
a person has confidence 0 everywhere -- plus ``image_points`` (T, 25, 2) pixels
(NaN where missing), ``fps``, ``mirrored`` and ``adapter``.  A JSON summary is
printed and written next to it (``FILE.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ms2l.checkpoint import write_text_atomic
from pose_adapters.clipfile import SkeletonClip, write_clip

from ..live.extract import ADAPTERS, extract_video


def cmd_extract(a: argparse.Namespace) -> int:
    video, out = Path(a.video), Path(a.out)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    t0 = time.perf_counter()
    result = extract_video(video, mirrored=a.mirrored, adapter=a.adapter, max_frames=a.max_frames,
                           progress=not a.quiet)
    wall = time.perf_counter() - t0
    write_clip(out, SkeletonClip(result["joints"], result["confidence"], result["timestamps"], fps=result["fps"],
                                 image_points=result["image_points"], mirrored=bool(a.mirrored),
                                 adapter=ADAPTERS[a.adapter]))
    frames = len(result["timestamps"])
    with_person = int((result["confidence"] > 0).any(axis=1).sum())
    summary = {
        "command": "extract", "video": str(video), "out": str(out), "adapter": ADAPTERS[a.adapter],
        "mirrored": bool(a.mirrored), "frames": frames, "frames_with_person": with_person,
        "person_share": with_person / frames, "fps": result["fps"],
        "size": [result["width"], result["height"]],
        "duration_s": float(result["timestamps"][-1] - result["timestamps"][0]) if frames > 1 else 0.0,
        "wall_s": wall, "ms_per_frame": 1000.0 * wall / frames,
        "shapes": {"joints": list(result["joints"].shape), "confidence": list(result["confidence"].shape),
                   "timestamps": list(result["timestamps"].shape)},
    }
    write_text_atomic(out.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    print(f"{with_person}/{frames} frames with a person; skeletons written to {out}", file=sys.stderr)
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``ms2l extract``."""
    q = subparsers.add_parser(
        "extract", help="run the pose estimator on a video and save skeletons (.npz)",
        description="Run MediaPipe Pose on every frame of VIDEO and write FILE.npz with joints (T,25,3) float32 "
                    "in the project convention, confidence (T,25) and timestamps (T,) seconds, plus a JSON "
                    "summary (printed and written to FILE.json).")
    q.add_argument("video", metavar="VIDEO", help="video file to read")
    q.add_argument("--out", required=True, metavar="FILE.npz", help="output file")
    q.add_argument("--adapter", default="mediapipe", choices=sorted(ADAPTERS),
                   help="pose estimator and layout (default: mediapipe, its world landmarks)")
    q.add_argument("--mirrored", action="store_true",
                   help="the video is a mirror image (selfie camera, NTU RGB+D's RGB videos): swap left and right")
    q.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_extract)
