"""Replaying a clip as an animated skeleton, and trimming it (used by recording and the library browser)."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import (
    QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QToolButton,
    QVBoxLayout, QWidget,
)

from pose_adapters.convention import BONES

_LEFT = {4, 5, 6, 7, 12, 13, 14, 15, 21, 22}
_RIGHT = {8, 9, 10, 11, 16, 17, 18, 19, 23, 24}


def front_view(joints: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Fit a clip's front view (convention x to the camera's left, y up) into a unit box.

    ``joints[T, 25, 3]``, ``confidence[T, 25]`` -> (``xy[T, 25, 2]`` in [0, 1] with y down and the
    subject's left drawn on screen right as a camera sees them, centre x, centre y, scale).  A pair,
    ``joints[M, T, 25, 3]``, is fitted as one scene (``xy[M, T, 25, 2]``).
    """
    seen = confidence > 0
    if not seen.any():
        return np.full(joints.shape[:-1] + (2,), 0.5, np.float32), 0.0, 0.0, 1.0
    x, y = -joints[..., 0], -joints[..., 1]  # screen x grows rightwards = camera's right; y down
    xs, ys = x[seen], y[seen]
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    scale = max(xs.max() - xs.min(), ys.max() - ys.min(), 1e-3) * 1.15
    xy = np.stack([(x - cx) / scale + 0.5, (y - cy) / scale + 0.5], -1).astype(np.float32)
    return xy, float(cx), float(cy), float(scale)


class SkeletonPlayer(QWidget):
    """Plays ``joints[T, 25, 3]`` (or a pair's ``[M, T, 25, 3]``) at the clip's own times, looping;
    :meth:`show_frame` jumps to one frame.

    Signals ``frameChanged(int)``.  ``play()``/``pause()``; ``range`` limits playback to a slice.
    """

    frameChanged = pyqtSignal(int)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._xy: np.ndarray | None = None
        self._conf: np.ndarray | None = None
        self._t: np.ndarray | None = None
        self.frame = 0
        self.lo, self.hi = 0, 0
        self.message = "No clip"
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)

    def set_clip(self, joints: np.ndarray | None, confidence: np.ndarray | None = None,
                 timestamps: np.ndarray | None = None) -> None:
        """Show a clip (None: nothing); keeps playing if it was."""
        if joints is None or len(joints) == 0:
            self._xy = self._conf = self._t = None
            self.frame = self.lo = self.hi = 0
            self.update()
            return
        joints = np.asarray(joints, np.float32)
        if joints.ndim == 3:
            joints = joints[None]
            confidence = None if confidence is None else np.asarray(confidence)[None]
        T = joints.shape[1]
        conf = np.ones(joints.shape[:-1], np.float32) if confidence is None else np.asarray(confidence)
        self._xy, *_ = front_view(joints, conf)  # [M, T, 25, 2]
        self._conf = conf
        self._t = np.arange(T) / 30.0 if timestamps is None else np.asarray(timestamps, float)
        self.lo, self.hi = 0, T
        self.show_frame(0)

    @property
    def frames(self) -> int:
        return 0 if self._xy is None else self._xy.shape[1]

    @property
    def persons(self) -> int:
        return 0 if self._xy is None else self._xy.shape[0]

    def set_range(self, lo: int, hi: int) -> None:
        """Play frames ``lo:hi`` only."""
        self.lo, self.hi = max(0, lo), min(self.frames, max(lo + 1, hi))
        if not self.lo <= self.frame < self.hi:
            self.show_frame(self.lo)

    def show_frame(self, i: int) -> None:
        if self._xy is None:
            return
        self.frame = int(np.clip(i, 0, self.frames - 1))
        self.update()
        self.frameChanged.emit(self.frame)
        if self._timer.isActive():
            self._schedule()

    def play(self) -> None:
        if self._xy is not None:
            self._schedule()

    def pause(self) -> None:
        self._timer.stop()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _schedule(self) -> None:
        nxt = self.frame + 1 if self.frame + 1 < self.hi else self.lo
        dt = self._t[nxt] - self._t[self.frame] if nxt > self.frame else 0.5  # a pause before looping
        self._timer.start(int(np.clip(dt * 1000, 10, 1000)))

    def _advance(self) -> None:
        nxt = self.frame + 1 if self.frame + 1 < self.hi else self.lo
        self.show_frame(nxt)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._xy is None:
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        side = min(self.width(), self.height()) - 16
        ox, oy = (self.width() - side) / 2, (self.height() - side) / 2
        anyone = False
        for m in range(self.persons):  # the second person of a pair in paler colours
            xy = self._xy[m, self.frame] * side + np.array([ox, oy])
            ok = self._conf[m, self.frame] > 0
            anyone |= bool(ok.any())
            for a, b in BONES:
                if ok[a] and ok[b]:
                    col = (QColor(80, 160, 255) if a in _LEFT else QColor(255, 150, 50) if a in _RIGHT
                           else QColor(90, 220, 90))
                    p.setPen(QPen(col.lighter(150) if m else col, 3))
                    p.drawLine(QPointF(*xy[a]), QPointF(*xy[b]))
            p.setPen(QPen(QColor(240, 240, 240), 1))
            p.setBrush(QColor(240, 240, 240))
            for j in np.flatnonzero(ok):
                p.drawEllipse(QPointF(*xy[j]), 3, 3)
        p.setPen(QColor(200, 200, 200))
        t = self._t[self.frame] - self._t[0]
        p.drawText(8, self.height() - 8, f"frame {self.frame + 1}/{self.frames}  {t:.2f} s"
                   + (f"  · {self.persons} people" if self.persons > 1 else "")
                   + ("" if anyone else "  (no person)"))


class TrimDialog(QDialog):
    """Choose the frames to keep: two sliders (first, last) over an animated preview of the kept part."""

    def __init__(self, joints: np.ndarray, confidence: np.ndarray, timestamps: np.ndarray, *,
                 start: int = 0, end: int | None = None, title: str = "Trim the clip",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        T = len(timestamps)
        self._t = np.asarray(timestamps, float)
        self.player = SkeletonPlayer()
        self.player.set_clip(joints, confidence, timestamps)
        self.first = QSpinBox()
        self.last = QSpinBox()
        self.first_slider = QSlider(Qt.Orientation.Horizontal)
        self.last_slider = QSlider(Qt.Orientation.Horizontal)
        for w in (self.first, self.last, self.first_slider, self.last_slider):
            w.setRange(1, max(1, T))
        self.first.setValue(start + 1)
        self.last.setValue(T if end is None else max(start + 1, end if end > 0 else T + end))
        self.first_slider.setValue(self.first.value())
        self.last_slider.setValue(self.last.value())
        self.first.valueChanged.connect(self.first_slider.setValue)
        self.first_slider.valueChanged.connect(self.first.setValue)
        self.last.valueChanged.connect(self.last_slider.setValue)
        self.last_slider.valueChanged.connect(self.last.setValue)
        self.first.valueChanged.connect(self._first_changed)
        self.last.valueChanged.connect(self._last_changed)
        self.info = QLabel()
        play = QToolButton(text="Play / pause")
        play.clicked.connect(lambda: self.player.pause() if self.player.playing else self.player.play())
        grid = QGridLayout()
        grid.addWidget(QLabel("First frame"), 0, 0)
        grid.addWidget(self.first_slider, 0, 1)
        grid.addWidget(self.first, 0, 2)
        grid.addWidget(QLabel("Last frame"), 1, 0)
        grid.addWidget(self.last_slider, 1, 1)
        grid.addWidget(self.last, 1, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(play)
        row.addWidget(self.info, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.player, 1)
        lay.addLayout(grid)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self.resize(480, 520)
        self._update()
        self.player.play()

    def _first_changed(self, v: int) -> None:
        if self.last.value() < v:
            self.last.setValue(v)
        self.player.show_frame(v - 1)
        self._update()

    def _last_changed(self, v: int) -> None:
        if self.first.value() > v:
            self.first.setValue(v)
        self.player.show_frame(v - 1)
        self._update()

    def _update(self) -> None:
        s, e = self.bounds()
        self.player.set_range(s, e)
        dur = self._t[e - 1] - self._t[s] if e - 1 > s else 0.0
        self.info.setText(f"keep frames {s + 1}–{e} of {len(self._t)} ({dur:.2f} s)")

    def bounds(self) -> tuple[int, int]:
        """The kept frames as a slice ``(start, end)``."""
        return self.first.value() - 1, self.last.value()

    def done(self, r: int) -> None:  # noqa: D102 - stop the animation with the dialog
        self.player.pause()
        super().done(r)
