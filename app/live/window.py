"""The sliding window: the last skeletons, resampled by timestamp to the model's frame rate.

Webcams deliver 15-60 fps (and drop frames); the model was trained at one rate.
:class:`WindowBuffer` keeps the raw skeletons it is given with their capture
times and, on demand, interpolates them onto an even grid at the model's
``fps`` that ends at the newest skeleton.  Short gaps (a few frames without a
person, dropped frames) are bridged by the interpolation; a person lost for
longer than ``reset_after_s`` empties the buffer, so a new person never
inherits the last one's motion.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..types import Skeleton, Window


class WindowBuffer:
    """Collects skeletons and returns :class:`~app.types.Window` objects at ``fps``.

    Args:
        fps: the model's frame rate (grid spacing ``1 / fps``).
        window: the most frames a window holds (``T``).
        reset_after_s: a person unseen for longer than this resets the buffer.
        min_frames: frames needed before :meth:`window` returns anything
            (default ``window``: predictions start once the window is full).
    """

    def __init__(self, fps: float, window: int, reset_after_s: float = 1.0, min_frames: int | None = None):
        if fps <= 0 or window < 1:
            raise ValueError(f"fps must be > 0 and window >= 1, got fps={fps}, window={window}")
        self.fps = float(fps)
        self.window_frames = int(window)
        self.reset_after_s = float(reset_after_s)
        self.min_frames = int(min(window, min_frames if min_frames is not None else window))
        if self.min_frames < 1:
            raise ValueError("min_frames must be >= 1")
        self._t: deque[float] = deque()
        self._j: deque[np.ndarray] = deque()
        self._c: deque[np.ndarray] = deque()
        self._last_seen: float | None = None  # time of the newest skeleton
        self._last_t: float | None = None  # time of the newest push, person or not
        self.resets = 0

    # -- state ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Raw skeletons held."""
        return len(self._t)

    @property
    def span_s(self) -> float:
        """Seconds covered by the held skeletons."""
        return self._t[-1] - self._t[0] if self._t else 0.0

    @property
    def frames_available(self) -> int:
        """Grid frames a window would have now (at most ``window``)."""
        if not self._t:
            return 0
        return min(self.window_frames, int(np.floor(self.span_s * self.fps + 1e-6)) + 1)

    @property
    def ready(self) -> bool:
        return self.frames_available >= self.min_frames

    @property
    def person(self) -> bool:
        """Whether the newest push had a person in it."""
        return self._last_seen is not None and self._last_seen == self._last_t

    def reset(self) -> None:
        if self._t:
            self.resets += 1
        self._t.clear()
        self._j.clear()
        self._c.clear()
        self._last_seen = None

    def configure(self, *, fps: float | None = None, window: int | None = None, reset_after_s: float | None = None,
                  min_frames: int | None = None) -> None:
        """Change settings at run time; a new ``fps`` resets (the grid changes)."""
        if fps is not None and abs(fps - self.fps) > 1e-9:
            self.fps = float(fps)
            self.reset()
        if window is not None:
            self.window_frames = int(window)
        if reset_after_s is not None:
            self.reset_after_s = float(reset_after_s)
        self.min_frames = int(min(self.window_frames, min_frames if min_frames is not None else self.window_frames))

    # -- input ---------------------------------------------------------------------------------
    def push(self, skeleton: Skeleton | None, t: float | None = None) -> None:
        """Add one frame's result: a skeleton, or ``None`` (nobody) at time ``t``.

        ``t`` defaults to ``skeleton.t``; it is required with ``None``.  Time
        going backwards (a file restarted, a camera reopened) resets the buffer.
        """
        if t is None:
            if skeleton is None:
                raise ValueError("push(None) needs the frame time t")
            t = skeleton.t
        t = float(t)
        if self._last_t is not None and t < self._last_t - 1e-9:
            self.reset()
        self._last_t = t
        if skeleton is None:
            if self._last_seen is not None and t - self._last_seen > self.reset_after_s:
                self.reset()
            return
        if self._last_seen is not None and t - self._last_seen > self.reset_after_s:
            self.reset()  # gap without any None pushes (e.g. frames dropped upstream)
        joints = np.asarray(skeleton.joints, np.float32)
        conf = np.asarray(skeleton.confidence, np.float32)
        if self._t and t - self._t[-1] < 1e-9:
            self._j[-1], self._c[-1] = joints, conf  # same instant: keep the newest
        else:
            self._t.append(t)
            self._j.append(joints)
            self._c.append(conf)
        self._last_seen = t
        # Keep one grid step beyond the window so its first frame can still be interpolated.
        keep_from = t - (self.window_frames + 1) / self.fps
        while len(self._t) > 2 and self._t[1] <= keep_from:
            self._t.popleft()
            self._j.popleft()
            self._c.popleft()

    # -- output --------------------------------------------------------------------------------
    def window(self, min_frames: int | None = None) -> Window | None:
        """The current window, or None until ``min_frames`` grid frames are covered or while nobody is seen.

        Returns ``Window(joints[T, 25, 3], confidence[T, 25], t[T], fps)`` with
        ``t`` evenly spaced by ``1/fps`` and ending at the newest skeleton.
        ``min_frames`` overrides the buffer's own (the end of a stream decides on less).
        """
        need = self.min_frames if min_frames is None else max(1, int(min_frames))
        if not self.person or self.frames_available < need:
            return None
        n = self.frames_available
        ts = np.fromiter(self._t, float, len(self._t))
        grid = ts[-1] - np.arange(n - 1, -1, -1) / self.fps
        joints, conf = interpolate(ts, np.stack(self._j), np.stack(self._c), grid)
        return Window(joints=joints, confidence=conf, t=grid, fps=self.fps)


def interpolate(ts: np.ndarray, joints: np.ndarray, conf: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of ``joints[N, V, 3]``/``conf[N, V]`` at times ``ts[N]`` onto ``grid[T]``.

    A joint missing (confidence 0) at one neighbour is copied from the other
    instead, so a zeroed joint never drags a real one towards the origin.
    """
    n = len(ts)
    if n == 1:
        return (np.repeat(joints, len(grid), 0).astype(np.float32), np.repeat(conf, len(grid), 0).astype(np.float32))
    hi = np.clip(np.searchsorted(ts, grid, side="left"), 1, n - 1)
    lo = hi - 1
    w = np.clip((grid - ts[lo]) / np.maximum(ts[hi] - ts[lo], 1e-12), 0.0, 1.0).astype(np.float32)
    j0, j1, c0, c1 = joints[lo], joints[hi], conf[lo], conf[hi]
    wv = w[:, None]
    both = (c0 > 0) & (c1 > 0)
    nearer_hi = (wv >= 0.5) | ((c0 <= 0) & (c1 > 0))
    nearer_hi &= ~((c1 <= 0) & (c0 > 0))
    j_near = np.where(nearer_hi[..., None], j1, j0)
    c_near = np.where(nearer_hi, c1, c0)
    j = np.where(both[..., None], j0 * (1 - wv[..., None]) + j1 * wv[..., None], j_near)
    c = np.where(both, c0 * (1 - wv) + c1 * wv, c_near)
    return j.astype(np.float32), c.astype(np.float32)
