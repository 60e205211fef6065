"""The video with the skeleton drawn over it."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from pose_adapters.convention import BONES

from ..types import Skeleton


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """``[H, W, 3]`` uint8 BGR (OpenCV order) -> an owned RGB ``QImage``."""
    if image.ndim == 2:  # grey frames from some folders/cameras
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)
    h, w, _ = image.shape
    # The converted image owns its pixels; the wrapper over the numpy buffer does not.
    return QImage(image.data, w, h, 3 * w, QImage.Format.Format_BGR888).convertToFormat(QImage.Format.Format_RGB888)


def confidence_color(c: float) -> QColor:
    """Low confidence red, high green: the user sees which joints to trust."""
    c = float(min(max(c, 0.0), 1.0))
    return QColor.fromHsvF(c / 3.0, 0.9, 1.0, 0.35 + 0.65 * c)


#: One colour per tracked person (by id), so a person keeps theirs while they stay in view.
PERSON_COLORS = ((66, 165, 245), (255, 167, 38), (102, 187, 106), (236, 64, 122), (171, 71, 188), (38, 198, 218))


def person_color(pid: int) -> QColor:
    return QColor(*PERSON_COLORS[int(pid) % len(PERSON_COLORS)])


def draw_skeleton(image: QImage, points: np.ndarray, confidence: np.ndarray | None,
                  bones: tuple[tuple[int, int], ...] = BONES, mirror: bool = False, color: QColor | None = None,
                  label: str | None = None, box: np.ndarray | None = None, bold: bool = False) -> None:
    """Draw bones and joints (pixel ``points[V, 2]``) onto ``image`` in place.

    Joints with confidence 0 are missing and are not drawn, nor their bones.
    ``mirror`` flips x, for an image that was flipped for display.  ``color``: one colour for the
    whole person (several people), else bones coloured by confidence; ``label`` is written above
    ``box`` (``[4]`` pixels), ``bold`` marks the selected person.
    """
    pts = np.asarray(points, dtype=np.float64).copy()
    conf = np.ones(len(pts)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if mirror:
        pts[:, 0] = image.width() - 1 - pts[:, 0]
    ok = (conf > 0) & np.isfinite(pts).all(axis=1)
    size = max(2.0, min(image.width(), image.height()) / 120.0)  # readable at any resolution
    if bold:
        size *= 1.5
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    for a, b in bones:
        if ok[a] and ok[b]:
            p.setPen(QPen(color or confidence_color(min(conf[a], conf[b])), size, cap=Qt.PenCapStyle.RoundCap))
            p.drawLine(QPointF(*pts[a]), QPointF(*pts[b]))
    p.setPen(QPen(QColor(0, 0, 0, 160), max(1.0, size / 3)))
    for i in np.flatnonzero(ok):
        p.setBrush(color or confidence_color(conf[i]))
        p.drawEllipse(QPointF(*pts[i]), size * 1.2, size * 1.2)
    if label and box is not None and np.isfinite(box).all():
        x0, y0, x1 = float(box[0]), float(box[1]), float(box[2])
        if mirror:
            x0, x1 = image.width() - 1 - x1, image.width() - 1 - x0
        f = p.font()
        f.setPixelSize(max(10, int(image.height() / 28)))
        f.setBold(True)
        p.setFont(f)
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(label) + 8, fm.height() + 2
        top = max(0.0, y0 - h - 2)
        p.fillRect(QRectF(x0, top, w, h), color or QColor(40, 40, 40))
        p.setPen(QColor(0, 0, 0))
        p.drawText(QRectF(x0 + 4, top, w, h), Qt.AlignmentFlag.AlignVCenter, label)
    p.end()


class VideoView(QWidget):
    personClicked = pyqtSignal(int)

    """Shows the newest frame, the skeleton over it, or a message when there is no video.

    It only renders what it is given: ``set_frame``/``set_skeleton`` from the window's
    poll timer, ``set_mirror``/``set_overlay`` from the settings.
    """

    #: A skeleton older than this (seconds, relative to the frame) is not drawn:
    #: it belongs to someone who has left, or to the previous source.
    STALE_S = 1.0

    def __init__(self, parent: QWidget | None = None, *, mirror: bool = False, overlay: bool = True) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: np.ndarray | None = None
        self._t = 0.0
        self._skeleton: Skeleton | None = None
        self._mirror = mirror
        self._overlay = overlay
        self._message = "No video"
        self._composed: QImage | None = None
        self._people: list[tuple[int, Skeleton | None, np.ndarray, str, bool]] = []

    # -- state in ----------------------------------------------------------------
    def set_frame(self, image: np.ndarray | None, t: float = 0.0) -> None:
        self._image, self._t = image, t
        self._invalidate()

    def set_skeleton(self, skeleton: Skeleton | None) -> None:
        self._skeleton = skeleton
        self._invalidate()

    def set_people(self, people: list[tuple[int, Skeleton | None, np.ndarray, str, bool]]) -> None:
        """Everyone tracked: ``(id, skeleton, box[4], label, selected)``; drawn in each id's colour."""
        self._people = list(people)
        self._invalidate()

    @property
    def people(self) -> list[tuple[int, Skeleton | None, np.ndarray, str, bool]]:
        return self._people

    def person_at(self, x: float, y: float) -> int | None:
        """The id of the person whose box holds widget point ``(x, y)`` (the smallest such box), or None."""
        r = self.image_rect()
        if self._image is None or r.width() <= 0:
            return None
        h, w = self._image.shape[:2]
        ix, iy = (x - r.x()) * w / r.width(), (y - r.y()) * h / r.height()
        if self._mirror:
            ix = w - 1 - ix
        hits = [(float((b[2] - b[0]) * (b[3] - b[1])), pid) for pid, _, b, _, _ in self._people
                if np.isfinite(b).all() and b[0] <= ix <= b[2] and b[1] <= iy <= b[3]]
        return min(hits)[1] if hits else None

    def mousePressEvent(self, event) -> None:  # noqa: N802, ANN001 (Qt name)
        pid = self.person_at(event.position().x(), event.position().y())
        if pid is not None:
            self.personClicked.emit(pid)
        super().mousePressEvent(event)

    def set_mirror(self, on: bool) -> None:
        self._mirror = bool(on)
        self._invalidate()

    def set_overlay(self, on: bool) -> None:
        self._overlay = bool(on)
        self._invalidate()

    def set_message(self, text: str) -> None:
        """Text shown when there is no frame (the empty state)."""
        self._message = text
        self.update()

    def clear(self, message: str | None = None) -> None:
        self._image, self._skeleton, self._people = None, None, []
        if message is not None:
            self._message = message
        self._invalidate()

    # -- state out (tests, snapshots) --------------------------------------------
    @property
    def message(self) -> str:
        return self._message

    @property
    def frame(self) -> np.ndarray | None:
        """The raw frame being shown (BGR), before mirroring and overlay."""
        return self._image

    @property
    def skeleton(self) -> Skeleton | None:
        return self._skeleton

    @property
    def has_frame(self) -> bool:
        return self._image is not None

    @property
    def mirror(self) -> bool:
        return self._mirror

    @property
    def overlay(self) -> bool:
        return self._overlay

    def overlay_drawn(self) -> bool:
        """Whether the current image has a skeleton drawn on it."""
        return self._drawable_skeleton() is not None

    def composed(self) -> QImage | None:
        """The frame as shown (mirrored, with the overlay) at the frame's own resolution."""
        if self._composed is None and self._image is not None:
            img = bgr_to_qimage(self._image)
            if self._mirror:
                img = img.mirrored(True, False)
            if self._people and self._overlay:
                for pid, psk, box, label, sel in self._people:
                    if psk is not None and psk.image_points is not None and abs(self._t - psk.t) <= self.STALE_S:
                        draw_skeleton(img, psk.image_points, psk.confidence, mirror=self._mirror,
                                      color=person_color(pid), label=label, box=box, bold=sel)
            else:
                sk = self._drawable_skeleton()
                if sk is not None:
                    draw_skeleton(img, sk.image_points, sk.confidence, mirror=self._mirror)
            self._composed = img
        return self._composed

    # -- internals ---------------------------------------------------------------
    def _drawable_skeleton(self) -> Skeleton | None:
        sk = self._skeleton
        if (not self._overlay or self._image is None or sk is None or sk.image_points is None
                or abs(self._t - sk.t) > self.STALE_S):
            return None
        return sk

    def _invalidate(self) -> None:
        self._composed = None
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame lands in the widget: scaled to fit, aspect kept, centred."""
        if self._image is None:
            return QRectF()
        h, w = self._image.shape[:2]
        s = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        img = self.composed()
        if img is None:
            p.setPen(QColor(220, 220, 220))
            f = p.font()
            f.setPointSizeF(f.pointSizeF() * 1.3)
            p.setFont(f)
            p.drawText(self.rect().adjusted(24, 24, -24, -24),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(self.image_rect(), img)
        p.end()
