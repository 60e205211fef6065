"""Whole frame or strips, chosen from what the pose stage sees (``pose_tiles = 0``, the default).

The whole-frame landmarker misses people who are small in a wide frame (its detector sees the
frame at 224x224: on calisthenics-3people.avi all three are found in 68 % of frames); two
overlapping strips find them (99.8 %) but cut a person who is close to the camera, and a cut fit
can win (``MultiPose``'s ``tiles``).  :class:`AutoStrips` starts on the whole frame and switches
to strips while everyone it finds is narrow enough to be whole in one strip and fewer people are
found than asked for; it goes back to the whole frame when someone wide appears in the strips or
nobody is found for a while.  Switches wait for a few frames in a row, so one odd frame does not
flip the mode.
"""
from __future__ import annotations

from types import TracebackType
from typing import Callable, Protocol

import numpy as np

from ..types import Frame, PoseResult
from .multipose import landmark_box


class _Estimator(Protocol):
    def process(self, frame: Frame) -> list[PoseResult]: ...

    def close(self) -> None: ...


class AutoStrips:
    """A multi-person pose estimator that runs ``whole()`` or ``strips()`` (made on first use).

    Args:
        whole, strips: factories of the whole-frame and the strips estimator (``MultiPose`` with
            ``tiles=1`` and ``tiles=2`` in the app; fakes in tests).
        num_poses: people asked for; with all of them found on the whole frame, strips are not tried.
        narrow: a person at most this share of the frame's width fits whole in a strip (the strips'
            overlap is 0.2 of the width, so 0.25 leaves them a little room).
        wide: in strips, a person wider than this share is someone close to the camera: back to the
            whole frame.
        patience: frames in a row a switch condition must hold.
        empty_patience: frames in a row with nobody found in strips before going back.

    ``mode`` is ``"whole"`` or ``"strips"``; ``switches`` counts mode changes.
    """

    def __init__(self, whole: Callable[[], _Estimator], strips: Callable[[], _Estimator], num_poses: int = 3,
                 narrow: float = 0.25, wide: float = 0.35, patience: int = 3, empty_patience: int = 15) -> None:
        self._make_strips = strips
        self._whole: _Estimator | None = whole()
        self._strips: _Estimator | None = None
        self.num_poses = int(num_poses)
        self.narrow, self.wide = float(narrow), float(wide)
        self.patience, self.empty_patience = int(patience), int(empty_patience)
        self.mode = "whole"
        self.switches = 0
        self._want = self._empty = 0  # frames in a row for which a switch condition held
        self.mirrored = bool(getattr(self._whole, "mirrored", False))
        self.layout = getattr(self._whole, "layout", "mediapipe_world")

    @property
    def last_detected(self) -> int:
        active = self._strips if self.mode == "strips" else self._whole
        return int(getattr(active, "last_detected", 0))

    def process(self, frame: Frame) -> list[PoseResult]:
        """Everyone found in ``frame`` by the estimator of the current mode (see the module doc)."""
        if self._whole is None:
            raise RuntimeError("AutoStrips is closed")
        width = float(frame.image.shape[1])
        if self.mode == "whole":
            results = self._whole.process(frame)
            want = 0 < len(results) < self.num_poses and max(_widths(results, width)) <= self.narrow
            empty = False
        else:
            assert self._strips is not None
            results = self._strips.process(frame)
            want = bool(results) and max(_widths(results, width)) > self.wide
            empty = not results
        self._want = self._want + 1 if want else 0
        self._empty = self._empty + 1 if empty else 0
        if self._want >= self.patience or self._empty >= self.empty_patience:
            self._switch("strips" if self.mode == "whole" else "whole")
        return results

    def _switch(self, mode: str) -> None:
        if mode == "strips" and self._strips is None:
            self._strips = self._make_strips()
        self.mode = mode
        self.switches += 1
        self._want = self._empty = 0

    def close(self) -> None:
        """Close both estimators (idempotent)."""
        for est in (self._whole, self._strips):
            if est is not None:
                est.close()
        self._whole = self._strips = None

    def __enter__(self) -> "AutoStrips":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _widths(results: list[PoseResult], width: float) -> list[float]:
    """Each person's box width as a share of the frame's width (0 for a box with no finite point)."""
    out = []
    for r in results:
        box = landmark_box(r.image_points, r.confidence)
        out.append(float((box[2] - box[0]) / width) if np.isfinite(box).all() else 0.0)
    return out
