"""Recording a take from the live pipeline (Qt-free): skeletons in, one library clip out.

:class:`Take` collects the runtime's processed frames (a skeleton, or None when
nobody was in view) with their times while the user records; :meth:`Take.arrays`
gives the clip in the library's layout, and :func:`trim_bounds` drops the
empty frames at either end so a clip starts and ends with the person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import Skeleton


@dataclass
class Take:
    """Frames of one recording, in arrival order.

    ``add(t, skeleton)`` ignores a frame already seen (same time) or older than the
    last one (a file restarted): the clip's timestamps must increase.
    """

    source: str = ""
    times: list[float] = field(default_factory=list)
    skeletons: list[Skeleton | None] = field(default_factory=list)
    preview_image: np.ndarray | None = None  # BGR [H, W, 3], a frame from the middle of the take
    _images: list[Any] = field(default_factory=list, repr=False)

    def add(self, t: float, skeleton: Skeleton | None, image: np.ndarray | None = None) -> bool:
        if self.times and t <= self.times[-1]:
            return False
        self.times.append(float(t))
        self.skeletons.append(skeleton)
        if image is not None and skeleton is not None:
            # Keep a few candidate images only; the preview is the one nearest the middle.
            self._images.append((len(self.times) - 1, image))
            if len(self._images) > 8:
                self._images = self._images[::2]
        return True

    def __len__(self) -> int:
        return len(self.times)

    @property
    def seen(self) -> np.ndarray:
        """``[T]`` whether each frame had a person."""
        return np.array([s is not None and bool((np.asarray(s.confidence) > 0).any()) for s in self.skeletons], bool)

    @property
    def duration_s(self) -> float:
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0

    def arrays(self, start: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``joints[T, 25, 3]`` float32, ``confidence[T, 25]`` float32, ``timestamps[T]`` float64 of frames ``start:end``."""
        sl = slice(start, end)
        sk, ts = self.skeletons[sl], self.times[sl]
        T = len(ts)
        joints = np.zeros((T, 25, 3), np.float32)
        conf = np.zeros((T, 25), np.float32)
        for i, s in enumerate(sk):
            if s is not None:
                joints[i], conf[i] = s.joints, s.confidence
        return joints, conf, np.asarray(ts, np.float64)

    def preview(self, start: int = 0, end: int | None = None) -> np.ndarray | None:
        """The kept image nearest the middle of frames ``start:end`` (None without images)."""
        if self.preview_image is not None:
            return self.preview_image
        if not self._images:
            return None
        stop = len(self.times) if end is None else (end if end >= 0 else len(self.times) + end)
        mid = (start + stop) / 2
        return min(self._images, key=lambda ki: abs(ki[0] - mid))[1]


def trim_bounds(seen: np.ndarray) -> tuple[int, int]:
    """``(start, end)`` frame slice from the first to the last frame with a person ((0, 0) when none)."""
    idx = np.flatnonzero(seen)
    if idx.size == 0:
        return 0, 0
    return int(idx[0]), int(idx[-1]) + 1
