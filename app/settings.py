"""Settings of the live pipeline (Qt-free; the window stores them with QSettings, the CLI takes flags)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ms2l.errors import ConfigError


@dataclass(frozen=True)
class RuntimeSettings:
    """Run-time settings (change them with :meth:`Runtime.update_settings`).

    threshold: smoothed probability an action needs (below it: ``unknown``).
    smoothing: exponential smoothing weight of the history, ``[0, 1)``.
    hysteresis: an action ends below ``threshold - hysteresis``.
    window: window length in frames at the model's fps (None: the model's own -- the live window it
        was trained for, ``meta["live"]``, else ``config.window``).
    window_s: window length in seconds (overrides ``window`` when set).
    min_fill: fraction of the window that must be filled before the first prediction (None: the
        model's own choice -- about its shortest training clips -- else 1).
    rejection: novelty above which the state is "none of these" (1: the model's calibrated threshold;
        higher names an action more readily; ``inf`` never rejects).
    still_m, still_s: a person whose confident joints all stay within ``still_m`` metres for ``still_s``
        seconds is ``still`` (``still_s`` 0: never).
    persons: how many people to follow (1: the fast single-person pose path; more: MultiPose, a tracker
        and one window, recogniser call and smoother per person).
    pose_tiles: MultiPose's overlapping strips (2 finds people who are small in a wide frame; 0: chosen
        from what is seen, :mod:`app.live.autostrips`).
    select: the tracked person the single-person outputs follow (None: the largest).
    every_k: classify every k-th processed frame (1 = every frame).
    device, backend: for the recogniser (``auto``/``cpu``/``cuda``; ``auto``/``onnx``/``torch``).
    mirror: override the source's ``mirrored`` flag (None: trust the source).
    reset_after_s: a person lost for longer than this resets the window.
    realtime: threaded mode paces finite sources (files, folders, clips) to their frame rate.
    max_events: how many recent events a snapshot carries.
    """

    threshold: float = 0.5
    smoothing: float = 0.5
    hysteresis: float = 0.1
    window: int | None = None
    window_s: float | None = None
    min_fill: float | None = None
    every_k: int = 3
    device: str = "auto"
    backend: str = "auto"
    mirror: bool | None = None
    reset_after_s: float = 1.0
    realtime: bool = True
    max_events: int = 50
    rejection: float = 1.0
    still_m: float = 0.05
    still_s: float = 1.0
    persons: int = 1
    pose_tiles: int = 0
    select: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")
        if not 0 <= self.smoothing < 1:
            raise ConfigError(f"smoothing must be in [0, 1), got {self.smoothing}")
        if self.every_k < 1:
            raise ConfigError(f"every_k must be >= 1, got {self.every_k}")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"window must be >= 1 frame, got {self.window}")
        if self.window_s is not None and self.window_s <= 0:
            raise ConfigError(f"window_s must be > 0, got {self.window_s}")
        if self.min_fill is not None and not 0 < self.min_fill <= 1:
            raise ConfigError(f"min_fill must be in (0, 1], got {self.min_fill}")
        if not self.rejection > 0:
            raise ConfigError(f"rejection must be > 0 (inf: never say none of these), got {self.rejection}")
        if not 1 <= self.persons <= 6:
            raise ConfigError(f"persons must be 1..6, got {self.persons}")
        if not 0 <= self.pose_tiles <= 4:
            raise ConfigError(f"pose_tiles must be 0 (auto) or 1..4, got {self.pose_tiles}")
        if self.still_m < 0 or self.still_s < 0:
            raise ConfigError(f"still_m and still_s must be >= 0, got {self.still_m}, {self.still_s}")
        if self.reset_after_s < 0:
            raise ConfigError(f"reset_after_s must be >= 0, got {self.reset_after_s}")

    def window_frames(self, fps: float, default: int) -> int:
        """The window length in frames at ``fps``."""
        if self.window_s is not None:
            return max(1, int(round(self.window_s * fps)))
        return int(self.window or default)

    def replace(self, **changes: Any) -> "RuntimeSettings":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown runtime settings: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)
