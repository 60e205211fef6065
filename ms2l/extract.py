"""``ms2l extract``: run the pose estimator on a video and save skeletons in the convention.

Writes ``FILE.npz`` with ``joints`` (T, 25, 3) float32 metres, ``confidence``
(T, 25) float32 and ``timestamps`` (T,) float64 seconds -- one row per decoded
frame; a frame without a person has confidence 0 everywhere -- plus
``image_points`` (T, 25, 2) pixels (NaN where missing), ``fps``, ``mirrored``
and ``adapter``.  A JSON summary is printed and written next to it
(``FILE.json``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: ``--adapter`` choices: the estimator behind each and the layout it produces.
ADAPTERS = {"mediapipe": "mediapipe_world"}


class VideoError(RuntimeError):
    """A video that cannot be opened or decoded."""


def open_video(path: Path):  # noqa: ANN201 - cv2.VideoCapture
    """An opened ``cv2.VideoCapture``; a missing file raises FileNotFoundError, an unreadable one VideoError."""
    import cv2

    if not path.exists():
        raise FileNotFoundError(f"video {path} does not exist")
    if not path.is_file():
        raise VideoError(f"{path} is not a file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"cannot open {path} as a video (unknown format or corrupt file)")
    return cap


def extract_video(
    video: Path,
    *,
    mirrored: bool = False,
    adapter: str = "mediapipe",
    max_frames: int | None = None,
    progress: bool = True,
    on_frame: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the pose estimator over ``video``.

    ``on_frame(done, total)`` is called after each frame (``total`` 0 when the
    container does not say); an exception it raises stops the extraction.

    Returns arrays ``joints[T, 25, 3]``, ``confidence[T, 25]``, ``timestamps[T]``,
    ``image_points[T, 25, 2]`` and the scalars ``fps``, ``width``, ``height``.
    """
    import cv2
    from tqdm import tqdm

    from app.pose import MediaPipePose, pose_to_skeleton
    from app.types import Frame

    if adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter!r}; choose from {', '.join(ADAPTERS)}")
    cap = open_video(video)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (math.isfinite(fps) and 0 < fps < 1000):
        fps = 0.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if max_frames is not None:
        total = min(total, max_frames) if total > 0 else max_frames
    joints, conf, stamps, pixels = [], [], [], []
    width = height = 0
    last_t = -math.inf
    try:
        with MediaPipePose(mirrored=mirrored) as estimator, tqdm(
            total=total or None, unit="frame", desc=f"extract {video.name}", disable=not progress, file=sys.stderr
        ) as bar:
            index = 0
            while max_frames is None or index < max_frames:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                height, width = image.shape[:2]
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not (math.isfinite(t) and t > last_t) or (index > 0 and t == 0):
                    # Some containers report position 0 near the end: keep time moving forward.
                    step = 1.0 / fps if fps > 0 else 1.0
                    t = max(index * step, last_t + step) if index > 0 else 0.0
                last_t = t
                skeleton = pose_to_skeleton(estimator.process(Frame(image, t, index, str(video))))
                if skeleton is None:
                    joints.append(np.zeros((25, 3), np.float32))
                    conf.append(np.zeros(25, np.float32))
                    pixels.append(np.full((25, 2), np.nan, np.float32))
                else:
                    joints.append(skeleton.joints)
                    conf.append(skeleton.confidence)
                    pixels.append(skeleton.image_points)
                stamps.append(t)
                index += 1
                bar.update(1)
                if on_frame is not None:
                    on_frame(index, total)
    finally:
        cap.release()
    if not stamps:
        raise VideoError(f"no frames could be decoded from {video} (corrupt file or unsupported codec)")
    return {
        "joints": np.stack(joints).astype(np.float32),
        "confidence": np.stack(conf).astype(np.float32),
        "timestamps": np.asarray(stamps, np.float64),
        "image_points": np.stack(pixels).astype(np.float32),
        "fps": fps, "width": width, "height": height,
    }


def cmd_extract(a: argparse.Namespace) -> int:
    video, out = Path(a.video), Path(a.out)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    t0 = time.perf_counter()
    try:
        result = extract_video(video, mirrored=a.mirrored, adapter=a.adapter, max_frames=a.max_frames,
                               progress=not a.quiet)
    except (VideoError, FileNotFoundError) as e:
        print(f"ms2l extract: error: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, joints=result["joints"], confidence=result["confidence"], timestamps=result["timestamps"],
        image_points=result["image_points"], fps=np.float64(result["fps"]), mirrored=np.bool_(a.mirrored),
        adapter=np.str_(ADAPTERS[a.adapter]),
    )
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
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
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
