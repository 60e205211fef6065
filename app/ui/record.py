"""Record and label: a Record button (and hotkey), a 3-2-1 countdown, a fixed length or stop-on-press,
a label picker with "New label…", a recording indicator, and trimming before the clip is saved.

:class:`RecordPanel` reads what the live pipeline is producing through a
``snapshot()`` callable (the runtime's: newest frame and skeleton), collects a
:class:`app.recording.Take`, and saves the kept frames to the clip library in
one transaction.  It works the same for a camera and for a video file that is
playing (which is how a stretch of an opened video is labelled).

*Two people* (or a two-person model loaded) records a pair: the selected person and
their partner by the live pipeline's rule (:class:`app.clips.recording.Follow`),
saved as one ``[2, T, 25, 3]`` clip.
"""
from __future__ import annotations

from typing import Any, Callable

from PyQt6.QtCore import QElapsedTimer, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QInputDialog, QLabel, QPushButton,
    QRadioButton, QVBoxLayout, QWidget,
)

from ..clips import Library, LibraryError, make_preview
from ..clips.recording import Follow, Take, trim_bounds
from .skeleton_player import TrimDialog

NEW_LABEL = "New label…"
PAIR_TIP = ("Record the selected person and the person beside them as one two-person clip (an interaction "
            "such as a handshake). Always on while a two-person model is loaded.")
IDLE, COUNTDOWN, RECORDING, TRIMMING = "idle", "countdown", "recording", "trimming"


class RecordPanel(QWidget):
    """Records takes from ``snapshot()`` into ``library``.

    Args:
        snapshot: returns the runtime's newest snapshot (``frame``, ``skeleton``, ``stats.source``).
        library: the clip library to save into.
        countdown_s: seconds of 3-2-1 before recording starts (0: none).
        poll_ms: how often the pipeline is read while recording.
        trim: show the trim dialog before saving (False: save the frames from the first to
            the last with a person at once).
        ask_label: asks the user for a new label (default: a text input dialog); returns None to cancel.
        model_persons: returns how many persons the loaded model takes (default: always 1); a
            two-person model always records pairs.
    """

    clipSaved = pyqtSignal(int)  # noqa: N815 - the new clip's id
    stateChanged = pyqtSignal(str)  # noqa: N815
    message = pyqtSignal(str)

    def __init__(self, snapshot: Callable[[], Any], library: Library, *, countdown_s: float = 3.0, poll_ms: int = 15,
                 trim: bool = True, ask_label: Callable[[QWidget], str | None] | None = None,
                 model_persons: Callable[[], int] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._snapshot = snapshot
        self._model_persons = model_persons or (lambda: 1)
        self._follow = Follow()
        self.library = library
        self.countdown_s = countdown_s
        self.trim = trim
        self._ask_label = ask_label or _ask_new_label
        self.state = IDLE
        self.take: Take | None = None
        self.trim_dialog: TrimDialog | None = None
        self.last_saved: int | None = None
        self._left = 0
        self._clock = QElapsedTimer()

        self.label = QComboBox()
        self.label.setToolTip("The action you are about to record")
        self.label.activated.connect(self._label_activated)
        self.fixed = QRadioButton("Fixed length")
        self.until = QRadioButton("Until I press again")
        self.fixed.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.fixed)
        group.addButton(self.until)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.5, 60.0)
        self.duration.setValue(3.0)
        self.duration.setSuffix(" s")
        self.fixed.toggled.connect(self.duration.setEnabled)
        self.pair = QCheckBox("Two people")
        self.pair.setToolTip(PAIR_TIP)
        self._pair_wanted = False  # the user's own choice, kept while a two-person model forces pairs
        self.pair.toggled.connect(self._pair_toggled)
        self.button = QPushButton()
        self.button.clicked.connect(self.toggle)
        self.indicator = QLabel("")
        font = QFont(self.indicator.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.6)
        font.setBold(True)
        self.indicator.setFont(font)
        self.indicator.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Action", self.label)
        length = QHBoxLayout()
        length.addWidget(self.fixed)
        length.addWidget(self.duration)
        form.addRow("Length", length)
        form.addRow("", self.until)
        form.addRow("People", self.pair)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.button)
        lay.addWidget(self.indicator)
        lay.addWidget(self.status)
        lay.addStretch(1)

        self._tick = QTimer(self)  # countdown: one tick a third of countdown_s
        self._tick.timeout.connect(self._countdown_tick)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self._collect)
        self._blink = QTimer(self)
        self._blink.setInterval(500)
        self._blink.timeout.connect(self._update_indicator)
        self.refresh_labels()
        self._set_state(IDLE)

    # -- labels --------------------------------------------------------------------------------
    def refresh_labels(self, select: str | None = None) -> None:
        """Fill the picker with the library's labels (most clips first) and "New label…"."""
        current = select or self.current_label()
        try:
            names = sorted(self.library.labels().items(), key=lambda kv: (-kv[1], kv[0]))
        except LibraryError as e:
            names = []
            self.status.setText(str(e))
        self.label.blockSignals(True)
        self.label.clear()
        for name, n in names:
            self.label.addItem(f"{name} ({n})", name)
        if current and self.label.findData(current) < 0:
            self.label.addItem(current, current)  # a new label has no clips yet
        self.label.addItem(NEW_LABEL, None)
        i = self.label.findData(current) if current else 0
        self.label.setCurrentIndex(max(0, i))
        self.label.blockSignals(False)

    def current_label(self) -> str | None:
        return self.label.currentData() if self.label.count() else None

    def set_label(self, name: str) -> None:
        self.refresh_labels(select=name)

    def _label_activated(self, index: int) -> None:
        if self.label.itemData(index) is None:  # "New label…"
            name = self._ask_label(self)
            name = " ".join(name.split()) if name else ""
            if name:
                self.refresh_labels(select=name)
            else:
                self.refresh_labels()

    # -- recording -------------------------------------------------------------------------------
    def toggle(self) -> None:
        """The Record button and hotkey: start (with a countdown), or stop (or cancel a countdown)."""
        if self.state == IDLE:
            self.start()
        elif self.state == COUNTDOWN:
            self.cancel()
        elif self.state == RECORDING:
            self.stop()

    def start(self) -> bool:
        if self.state != IDLE:
            return False
        if not self.current_label():
            self.status.setText("Choose the action first (or New label…)")
            return False
        self._sync_pair()
        steps = 3 if self.countdown_s > 0 else 0
        self._left = steps
        if steps:
            self._set_state(COUNTDOWN)
            self._tick.start(int(self.countdown_s * 1000 / steps))
        else:
            self._begin()
        return True

    def _countdown_tick(self) -> None:
        self._left -= 1
        if self._left <= 0:
            self._tick.stop()
            self._begin()
        else:
            self._update_indicator()

    def _begin(self) -> None:
        snap = self._snapshot()
        stats = getattr(snap, "stats", None)
        pair = self.pair_mode()
        self.take = Take(source=str(getattr(stats, "source", "") or "live"), persons=2 if pair else 1)
        # Several people: the take follows the person selected when it began; frames where that
        # person is gone (or someone else is selected) count as nobody, never as another person.
        # A pair also follows that person's partner, by id, from the first frame that has one.
        self._follow = Follow(pair=pair)
        self._follow.start(snap)
        self._clock.start()
        self._set_state(RECORDING)
        self._poll.start()
        self._blink.start()
        self._collect()

    def _collect(self) -> None:
        if self.state != RECORDING or self.take is None:
            return
        snap = self._snapshot()
        frame = getattr(snap, "frame", None)
        if frame is not None:
            skeleton, partner = self._follow.skeletons(snap)
            self.take.add(frame.t, skeleton, getattr(frame, "image", None), partner)
        if self.fixed.isChecked() and self._clock.elapsed() >= self.duration.value() * 1000:
            self.stop()

    def cancel(self) -> None:
        """Abandon a countdown or a recording (nothing is saved)."""
        self._tick.stop()
        self._poll.stop()
        self._blink.stop()
        self.take = None
        self._set_state(IDLE)
        self.status.setText("Recording cancelled")

    def stop(self) -> None:
        """End the recording; then trim (dialog) and save."""
        if self.state != RECORDING or self.take is None:
            return
        self._poll.stop()
        self._blink.stop()
        take = self.take
        start, end = trim_bounds(take.seen)
        if end == 0:
            self.take = None
            self._set_state(IDLE)
            self.status.setText("Nobody was in view: nothing was recorded")
            self.message.emit("Nobody was in view: nothing was recorded")
            return
        if not self.trim:
            self.save(start, end)
            return
        self._set_state(TRIMMING)
        j, c, t = take.arrays()
        self.trim_dialog = TrimDialog(j, c, t, start=start, end=end, title=f"Trim “{self.current_label()}”",
                                      parent=self)
        self.trim_dialog.accepted.connect(lambda: self.save(*self.trim_dialog.bounds()))
        self.trim_dialog.rejected.connect(self._discard)
        self.trim_dialog.open()  # window-modal, non-blocking: the live view keeps running

    def _discard(self) -> None:
        self.take, self.trim_dialog = None, None
        self._set_state(IDLE)
        self.status.setText("Take discarded")

    def save(self, start: int = 0, end: int | None = None) -> int | None:
        """Store frames ``start:end`` of the take under the chosen label; returns the clip id."""
        take, label = self.take, self.current_label()
        self.take, self.trim_dialog = None, None
        self._set_state(IDLE)
        if take is None:
            return None
        j, c, t = take.arrays(start, end)
        try:
            img = take.preview(start, end if end is not None else len(take))
            preview = make_preview(img) if img is not None else None
        except Exception:  # noqa: BLE001 - a preview is optional
            preview = None
        try:
            cid = self.library.add(j, c, t, label=label, source=take.source, preview=preview)
        except (LibraryError, OSError) as e:
            self.status.setText(f"Could not save the clip: {e}")
            self.message.emit(f"Could not save the clip: {e}")
            return None
        self.last_saved = cid
        dur = t[-1] - t[0] if len(t) > 1 else 0.0
        text = f"Saved clip #{cid}: {label}, {dur:.1f} s ({len(t)} frames)"
        if take.persons == 2:
            seen = take.partner_seen[start:end]
            text += (", two people" if seen.all() else
                     f", two people (the second on {int(seen.sum())} of {len(seen)} frames)" if seen.any() else
                     ", two people, but nobody was beside the selected person (follow two or more people: "
                     "Settings, People to follow)")
        self.status.setText(text)
        self.message.emit(text)
        self.refresh_labels(select=label)
        self.clipSaved.emit(cid)
        return cid

    # -- pairs -----------------------------------------------------------------------------------
    def model_persons(self) -> int:
        try:
            return max(1, int(self._model_persons()))
        except Exception:  # noqa: BLE001 - no model (yet): one person
            return 1

    def pair_mode(self) -> bool:
        """Whether the next take records a pair: *Two people* ticked, or a two-person model loaded."""
        return self.pair.isChecked() or self.model_persons() >= 2

    def _pair_toggled(self, on: bool) -> None:
        if self.pair.isEnabled():
            self._pair_wanted = on

    def _sync_pair(self) -> None:
        """A two-person model ticks *Two people* and locks it; another model gives the user's choice back."""
        forced = self.model_persons() >= 2
        self.pair.blockSignals(True)
        self.pair.setChecked(forced or self._pair_wanted)
        self.pair.blockSignals(False)
        self.pair.setEnabled(self.state == IDLE and not forced)
        self.pair.setToolTip(PAIR_TIP + ("\nThe loaded model judges pairs: every take is a pair." if forced else ""))

    # -- display ---------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self.button.setText({IDLE: "● Record (R)", COUNTDOWN: "Cancel", RECORDING: "■ Stop (R)",
                             TRIMMING: "Trimming…"}[state])
        self.button.setEnabled(state != TRIMMING)
        for w in (self.label, self.fixed, self.until, self.duration):
            w.setEnabled(state == IDLE and (w is not self.duration or self.fixed.isChecked()))
        self._sync_pair()
        self._update_indicator()
        self.stateChanged.emit(state)

    def _update_indicator(self) -> None:
        if self.state == COUNTDOWN:
            self.indicator.setStyleSheet("color: #e0a000")
            self.indicator.setText(f"{self._left}…")
        elif self.state == RECORDING:
            on = (self._clock.elapsed() // 500) % 2 == 0 if self._clock.isValid() else True
            self.indicator.setStyleSheet("color: #e02020")
            secs = self._clock.elapsed() / 1000 if self._clock.isValid() else 0.0
            self.indicator.setText(f"{'●' if on else '○'} REC {secs:.1f} s · {len(self.take or [])} frames")
        else:
            self.indicator.setStyleSheet("")
            self.indicator.setText("")

    @property
    def recording(self) -> bool:
        return self.state == RECORDING


def _ask_new_label(parent: QWidget) -> str | None:
    name, ok = QInputDialog.getText(parent, "New label", "Name of the action:")
    return name if ok else None


__all__ = ["RecordPanel", "NEW_LABEL", "IDLE", "COUNTDOWN", "RECORDING", "TRIMMING"]
