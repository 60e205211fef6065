"""Top-k class probabilities as horizontal bars."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget


def top_k(probs: np.ndarray, labels: tuple[str, ...] | list[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable ``(label, probability)`` pairs, best first."""
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


class ProbBars(QWidget):
    """Draws ``k`` bars with label and percentage, and a tick at the confidence threshold."""

    ROW_H = 26

    def __init__(self, parent: QWidget | None = None, *, k: int = 5, threshold: float = 0.5) -> None:
        super().__init__(parent)
        self._k = k
        self._threshold = threshold
        self._items: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.ROW_H * k + 4)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(280, self.ROW_H * self._k + 4)

    def set_probs(self, probs: np.ndarray | None, labels: tuple[str, ...] | list[str] = ()) -> None:
        self._items = [] if probs is None or len(labels) == 0 else top_k(probs, labels, self._k)
        self.update()

    def set_threshold(self, threshold: float) -> None:
        self._threshold = float(threshold)
        self.update()

    def items(self) -> list[tuple[str, float]]:
        """What is shown, best first (for tests and accessibility)."""
        return list(self._items)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        label_w = min(150, self.width() // 2)
        bar_x, bar_w = label_w + 6, max(10, self.width() - label_w - 6 - 48)
        for row in range(self._k):
            y = 2 + row * self.ROW_H
            h = self.ROW_H - 6
            p.fillRect(QRectF(bar_x, y, bar_w, h), pal.alternateBase())
            if row >= len(self._items):
                continue
            label, prob = self._items[row]
            above = prob >= self._threshold
            color = QColor(46, 160, 67) if (row == 0 and above) else QColor(90, 120, 170)
            p.fillRect(QRectF(bar_x, y, bar_w * min(max(prob, 0.0), 1.0), h), color)
            p.setPen(pal.text().color())
            p.drawText(QRectF(0, y, label_w, h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       self.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, label_w))
            p.drawText(QRectF(bar_x + bar_w + 4, y, 44, h), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"{100 * prob:.0f} %")
        # The threshold tick tells the user why a high bar can still read "unsure".
        x = bar_x + bar_w * self._threshold
        p.setPen(QPen(QColor(220, 80, 60), 1.5, Qt.PenStyle.DashLine))
        p.drawLine(int(x), 0, int(x), self.height())
        p.end()
