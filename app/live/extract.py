"""Offline pose extraction: every frame of a video through the live pose stage, as arrays.

The frames come from the same :class:`~app.live.sources.VideoSource` the live
window reads (so opening errors, media timestamps and truncation checks are the
live ones) and go through the same :class:`~app.live.pose.MediaPipePose` and
adapter.  ``ms2l extract`` (:mod:`app.cli.extract`) saves the result as a
skeleton clip (:mod:`pose_adapters.clipfile`).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ms2l.errors import ConfigError

from ..errors import SourceError, VideoError
from .sources import VideoSource

#: ``--adapter`` choices: the estimator behind each and the layout it produces.
ADAPTERS = {"mediapipe": "mediapipe_world"}


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
    from tqdm import tqdm

    from ..types import Frame
    from .pose import MediaPipePose, pose_to_skeleton

    if adapter not in ADAPTERS:
        raise ConfigError(f"unknown adapter {adapter!r}; choose from {', '.join(ADAPTERS)}")
    video = Path(video)
    if not video.exists():
        raise FileNotFoundError(f"video {video} does not exist")
    if not video.is_file():
        raise VideoError(f"{video} is not a file")
    try:
        source = VideoSource(str(video), kind="file")
    except SourceError as e:
        raise VideoError(f"cannot open {video} as a video: {e.reason}") from None
    fps = source.fps or 0.0
    total = source.frame_count or 0
    if max_frames is not None:
        total = min(total, max_frames) if total > 0 else max_frames
    joints, conf, stamps, pixels = [], [], [], []
    width = height = 0
    try:
        with MediaPipePose(mirrored=mirrored) as estimator, tqdm(
            total=total or None, unit="frame", desc=f"extract {video.name}", disable=not progress, file=sys.stderr
        ) as bar:
            while max_frames is None or len(stamps) < max_frames:
                try:
                    frame = source.read()
                except SourceError as e:
                    raise VideoError(str(e)) from None
                if frame is None:
                    break
                height, width = frame.image.shape[:2]
                skeleton = pose_to_skeleton(estimator.process(Frame(frame.image, frame.t, frame.index, str(video))))
                if skeleton is None:
                    joints.append(np.zeros((25, 3), np.float32))
                    conf.append(np.zeros(25, np.float32))
                    pixels.append(np.full((25, 2), np.nan, np.float32))
                else:
                    joints.append(skeleton.joints)
                    conf.append(skeleton.confidence)
                    pixels.append(skeleton.image_points)
                stamps.append(frame.t)
                bar.update(1)
                if on_frame is not None:
                    on_frame(len(stamps), total)
    finally:
        source.close()
    if not stamps:
        raise VideoError(f"no frames could be decoded from {video} (corrupt file or unsupported codec)")
    return {
        "joints": np.stack(joints).astype(np.float32),
        "confidence": np.stack(conf).astype(np.float32),
        "timestamps": np.asarray(stamps, np.float64),
        "image_points": np.stack(pixels).astype(np.float32),
        "fps": fps, "width": width, "height": height,
    }
