"""A scrolling strip of the actions recognised over the last seconds."""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget


@dataclass
class Segment:
    """One run of the same verdict: ``action`` is None for no person / unsure / warming up."""

    start: float
    end: float
    action: str | None


def label_color(label: str | None) -> QColor:
    """A stable colour per label (same action, same colour, across runs)."""
    if label is None:
        return QColor(70, 70, 70)
    return QColor.fromHsv(zlib.crc32(label.encode()) % 360, 150, 200)


class TimelineModel:
    """The last ``span_s`` seconds of verdicts as segments (Qt-free, so it is easy to test).

    Fed one ``(t, action)`` observation at a time, in time order; a new segment starts
    whenever the action changes.  A jump back in time (a new source, a looping file)
    starts over.
    """

    def __init__(self, span_s: float = 30.0) -> None:
        self.span_s = span_s
        self.segments: list[Segment] = []
        self.now = 0.0

    def add(self, t: float, action: str | None) -> None:
        if self.segments and t < self.now:
            self.clear()
        self.now = t
        last = self.segments[-1] if self.segments else None
        if last is not None and last.action == action:
            last.end = t
        else:
            if last is not None:
                last.end = t  # close the previous run where the new one starts: no gaps
            self.segments.append(Segment(t, t, action))
        cutoff = t - self.span_s
        while self.segments and self.segments[0].end < cutoff:
            self.segments.pop(0)

    def clear(self) -> None:
        self.segments.clear()
        self.now = 0.0

    def actions(self) -> list[str]:
        """Actions shown, oldest first (runs of no action left out)."""
        return [s.action for s in self.segments if s.action is not None]


class Timeline(QWidget):
    """Paints a :class:`TimelineModel`: time runs left to right, now at the right edge."""

    def __init__(self, model: TimelineModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model or TimelineModel()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(44)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(600, 44)

    def add(self, t: float, action: str | None) -> None:
        self.model.add(t, action)
        self.update()

    def clear(self) -> None:
        self.model.clear()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        w, h = self.width(), self.height()
        bar_h = h - 16
        p.fillRect(QRectF(0, 0, w, bar_h), QColor(40, 40, 40))
        span, now = self.model.span_s, self.model.now
        x_of = lambda t: w * (1.0 - (now - t) / span)  # noqa: E731
        for s in self.model.segments:
            x0, x1 = max(0.0, x_of(s.start)), x_of(s.end)
            rect = QRectF(x0, 0, max(1.0, x1 - x0), bar_h)
            p.fillRect(rect, label_color(s.action))
            if s.action and rect.width() > 40:
                p.setPen(QColor(0, 0, 0))
                p.drawText(rect.adjusted(3, 0, -2, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                           self.fontMetrics().elidedText(s.action, Qt.TextElideMode.ElideRight, int(rect.width()) - 5))
        p.setPen(self.palette().text().color())
        for sec in range(0, int(span) + 1, 10):
            x = w * (1.0 - sec / span)
            p.drawLine(int(x), bar_h, int(x), bar_h + 3)
            text = "now" if sec == 0 else f"-{sec} s"
            if sec == 0:
                rect, align = QRectF(w - 60, bar_h + 2, 60, 14), Qt.AlignmentFlag.AlignRight
            elif x < 30:
                rect, align = QRectF(0, bar_h + 2, 60, 14), Qt.AlignmentFlag.AlignLeft
            else:
                rect, align = QRectF(x - 30, bar_h + 2, 60, 14), Qt.AlignmentFlag.AlignHCenter
            p.drawText(rect, align | Qt.AlignmentFlag.AlignTop, text)
        p.end()
