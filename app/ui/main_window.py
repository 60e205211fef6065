"""The live recognition window: a thin view over :class:`app.runtime.Runtime`.

Capture, pose and the model run on the runtime's own threads.  The window only
polls ``runtime.snapshot()`` (non-blocking, newest state) on a timer, renders it,
and turns user intents (open a source, switch model, change a setting) into
runtime calls.  Anything that goes wrong reaches the user as a message.
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Protocol

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QFont, QKeySequence
from PyQt6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QSlider, QSplitter,
    QTableWidget, QTableWidgetItem, QToolBar, QVBoxLayout, QWidget,
)

from ..errors import describe
from .model_panel import ModelPanel
from ..models import DEFAULT, ModelEntry, list_models, model_metadata, user_models_dir
from .prob_bars import ProbBars
from .settings import SettingsDialog, SettingsStore, UiSettings, rejection_from_slider, slider_from_rejection
from .source_picker import SourcePicker
from .status import action_text, format_stats, short_name
from .timeline import Timeline
from .video_view import VideoView

log = logging.getLogger(__name__)


class RuntimeLike(Protocol):
    """What the window needs from a runtime (``app.runtime.Runtime``, or a fake in tests)."""

    def open(self, source: Any) -> None: ...
    def close(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def set_model(self, model: str) -> None: ...
    def update_settings(self, **changes: Any) -> None: ...
    def snapshot(self) -> Any: ...
    def poll_errors(self) -> list[Exception]: ...


SourceOpener = Callable[..., Any]  # open_source(spec, *, mirrored=None, loop=False) -> Source


def _default_opener(spec: str, **kw: Any) -> Any:
    from ..live.sources import open_source

    return open_source(spec, **kw)


def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """Run ``fn`` on its own daemon thread: a hung camera or stream cannot queue others behind it."""
    fut: Future = Future()

    def run() -> None:
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the GUI thread as the future's exception
            fut.set_exception(e)

    threading.Thread(target=run, name="ms2l-ui-open", daemon=True).start()
    return fut


def _close_quietly(source: Any) -> None:
    try:
        source.close()
    except Exception:  # noqa: BLE001 - a source being discarded may fail to close; nothing to tell
        log.debug("closing a discarded source failed", exc_info=True)


def _close_opened(fut: Future) -> None:
    """Done-callback for an open that was superseded or abandoned: close what it opened."""
    if not fut.cancelled() and fut.exception() is None:
        _close_quietly(fut.result())


class HelpDialog(QDialog):
    """Lists the window's keyboard shortcuts (built from the actions, so it never goes stale)."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText), a.text().replace("&", ""))
                for a in actions if not a.shortcut().isEmpty()]
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Key", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (key, text) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(key))
            self.table.setItem(r, 1, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("ms2l-live names the action the person in view is doing, live."))
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(440, 450)

    def shortcuts(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]


class MainWindow(QMainWindow):
    """Video + skeleton, current action, top-5 bars, 30 s timeline, status line.

    Everything it depends on comes in through the constructor: the ``runtime``,
    the ``cameras`` found, how to open a source spec (``open_source``), where
    settings persist (``store``), which models exist (``models_dir``) and how to
    read a model's card (``read_metadata``).  Tests pass fakes for all of them.
    """

    closed = pyqtSignal()  # after the runtime was closed

    def __init__(
        self,
        runtime: RuntimeLike,
        *,
        cameras: list[int] | tuple[int, ...] = (),
        open_source: SourceOpener | None = None,
        store: SettingsStore | None = None,
        models_dir: Path | None = None,
        model: str | None = None,
        read_metadata: Callable[[str], dict] = model_metadata,
        poll_ms: int = 33,
        dialogs: bool = True,
        library: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self._open_source = open_source or _default_opener
        self.store = store or SettingsStore()
        self.settings = self.store.load()
        self._models_dir = models_dir
        self._read_metadata = read_metadata
        self._dialogs = dialogs  # False: errors go to the status bar only (headless snapshots)
        self.errors: list[str] = []  # every message shown, newest last
        self._error_box: QMessageBox | None = None
        self._source: Any = None
        self._source_spec: str | None = None
        self._paused = False
        self._last_frame: Any = None
        self._last_state_t: float | None = None
        self._extra_models: list[str] = []
        self._pending_model: tuple[str, Future] | None = None
        self._opening: tuple[str, Future] | None = None
        self._finished_shown = False
        self._model = model or DEFAULT  # the model the runtime was built with
        self._cameras = list(cameras)

        self.setWindowTitle("ms2l-live")
        self._build_widgets()
        self._build_actions()
        self._apply_settings(self.settings, push=False)
        self.video.set_message(self._empty_message())
        self.refresh_models()
        self._show_card(self._model)

        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

        self.library_ui = None  # record, browse and train on the user's clips (a library dir or Library)
        if library is not None:
            from .library_actions import install_library
            self.library_ui = install_library(self, library, registry=models_dir)

    # -- construction ------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.picker = SourcePicker(self._cameras)
        self.picker.sourceRequested.connect(self.open_source)
        self.video = VideoView()
        self.video.personClicked.connect(self.select_person)

        self.action_label = QLabel("–")
        font = QFont(self.action_label.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 2.6)
        font.setBold(True)
        self.action_label.setFont(font)
        self.action_label.setWordWrap(True)
        self.action_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.action_label.setMinimumHeight(70)
        self.detail_label = QLabel("")
        self.detail_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = ProbBars(threshold=self.settings.threshold)
        self.rejection = QSlider(Qt.Orientation.Horizontal)
        self.rejection.setRange(0, 100)
        self.rejection.setValue(slider_from_rejection(self.settings.rejection))
        self.rejection.setToolTip("How readily the window says “none of these” for motion unlike every action the "
                                  "model knows. Middle: the threshold calibrated when the model was trained.")
        self.rejection.valueChanged.connect(lambda v: self.change_settings(rejection=rejection_from_slider(v)))
        self.rejection_note = QLabel("")
        self.model_panel = ModelPanel()
        self.model_panel.modelRequested.connect(self.set_model)
        self.model_panel.addRequested.connect(self.add_model)

        side = QWidget()
        col = QVBoxLayout(side)
        col.addWidget(self.action_label)
        col.addWidget(self.detail_label)
        col.addSpacing(8)
        col.addWidget(QLabel("<b>Top 5</b>"))
        col.addWidget(self.bars)
        col.addSpacing(4)
        row = QHBoxLayout()
        row.addWidget(QLabel("“None of these”: stricter"))
        row.addWidget(self.rejection, 1)
        row.addWidget(QLabel("lenient"))
        col.addLayout(row)
        col.addWidget(self.rejection_note)
        col.addSpacing(8)
        col.addWidget(self.model_panel, 1)
        side.setMinimumWidth(300)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.video)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.timeline = Timeline()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split, 1)
        lay.addWidget(QLabel("Last 30 s"))
        lay.addWidget(self.timeline)
        # The status line lives above the status bar, which stays free for messages.
        self.status_label = QLabel(format_stats(None))
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status_label)
        self.setCentralWidget(central)
        self.resize(1100, 700)

    def _action(self, text: str, key: str | QKeySequence.StandardKey | None, slot: Callable,
                checkable: bool = False, checked: bool = False) -> QAction:
        a = QAction(text, self)
        if key is not None:
            a.setShortcut(QKeySequence(key))
        a.setCheckable(checkable)
        if checkable:
            a.setChecked(checked)
            a.toggled.connect(slot)
        else:
            a.triggered.connect(slot)
        self.addAction(a)  # shortcuts work even where no menu shows the action
        return a

    def _build_actions(self) -> None:
        s = self.settings
        self.open_video_action = self._action("Open &video…", "Ctrl+O", self.picker.open_video)
        self.open_folder_action = self._action("Open &folder…", "Ctrl+Shift+O", self.picker.open_folder)
        self.open_url_action = self._action("Open stream &URL…", "Ctrl+U", self.picker.open_url)
        self.pause_action = self._action("&Pause", "Space", self.toggle_pause)
        self.reconnect_action = self._action("&Reconnect", "Ctrl+R", self.reconnect)
        self.loop_action = self._action("&Loop video files", "L", lambda on: self.change_settings(loop=on), True, s.loop)
        self.mirror_action = self._action("&Mirror video", "M", lambda on: self.change_settings(mirror=on), True, s.mirror)
        self.overlay_action = self._action("Show s&keleton", "S", lambda on: self.change_settings(overlay=on), True, s.overlay)
        self.settings_action = self._action("&Settings…", "Ctrl+,", self.edit_settings)
        self.help_action = self._action("&Keyboard shortcuts", "F1", self.show_help)
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close)

        m = self.menuBar().addMenu("&Source")
        for a in (self.open_video_action, self.open_folder_action, self.open_url_action):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.pause_action)
        m.addAction(self.reconnect_action)
        m.addAction(self.loop_action)
        m.addSeparator()
        m.addAction(self.quit_action)
        v = self.menuBar().addMenu("&View")
        v.addAction(self.mirror_action)
        v.addAction(self.overlay_action)
        v.addSeparator()
        v.addAction(self.settings_action)
        h = self.menuBar().addMenu("&Help")
        h.addAction(self.help_action)

        tb = QToolBar("Source")
        tb.setMovable(False)
        tb.addWidget(self.picker)
        tb.addSeparator()
        tb.addAction(self.pause_action)
        tb.addAction(self.loop_action)
        tb.addAction(self.mirror_action)
        tb.addAction(self.overlay_action)
        self.addToolBar(tb)

    def shortcut_actions(self) -> list[QAction]:
        return [self.open_video_action, self.open_folder_action, self.open_url_action, self.pause_action,
                self.reconnect_action, self.loop_action, self.mirror_action, self.overlay_action, self.settings_action,
                self.help_action, self.quit_action]

    # -- polling -----------------------------------------------------------------
    def tick(self) -> None:
        """Show the runtime's newest state; never raises (a failing poll becomes a message)."""
        try:
            for err in self.runtime.poll_errors() or ():
                self.report(err)
            self._check_pending_model()
            self._check_opening()
            self.render(self.runtime.snapshot())
        except Exception as e:  # noqa: BLE001 - the GUI must keep running whatever the runtime does
            log.exception("runtime poll failed")
            self.report(e)

    def render(self, snap: Any) -> None:
        """Render one ``RuntimeSnapshot`` (attributes missing or None are shown as empty)."""
        if snap is None:
            return
        frame = getattr(snap, "frame", None)
        if frame is not None and frame is not self._last_frame:
            self._last_frame = frame
            self.video.set_frame(frame.image, frame.t)
            self.video.set_skeleton(getattr(snap, "skeleton", None))
            persons = getattr(snap, "persons", ()) or ()
            sel = getattr(snap, "selected", None)
            self.video.set_people([(pr.id, pr.skeleton, pr.box, f"{pr.id}: {action_text(pr.state)[0]}", pr.id == sel)
                                   for pr in persons])
        state = getattr(snap, "state", None)
        pred = getattr(snap, "prediction", None)
        big, small = action_text(state)
        self.action_label.setText(big)
        self.detail_label.setText(small)
        if state is not None and len(state.labels):
            self.bars.set_probs(state.probs, state.labels)
        elif pred is not None:
            self.bars.set_probs(pred.probs, pred.labels)
        else:
            self.bars.set_probs(None)
        if state is not None and state.t != self._last_state_t:
            self._last_state_t = state.t
            self.timeline.add(state.t, state.action if state.state == "action" else None)
        stats = getattr(snap, "stats", None)
        self.status_label.setText(format_stats(stats))
        finished = bool(getattr(stats, "finished", False)) and self._source is not None
        if finished and not self._finished_shown:
            self.statusBar().showMessage(f"End of {short_name(self._source_spec)}: open another source, "
                                         "or turn on Loop (L) and open it again", 15000)
        self._finished_shown = finished

    # -- intents: sources --------------------------------------------------------
    def open_source(self, spec: str) -> None:
        """Open ``spec`` (camera:N, a file, a folder, a URL) and hand it to the runtime.

        Opening runs off the GUI thread (a camera or a dead stream URL can take seconds
        to answer); :meth:`tick` hands the source over once it is open.  A newer request
        supersedes an older one still opening.  Failures become messages.
        """
        self.statusBar().showMessage(f"Opening {short_name(spec)}…")
        if not self.video.has_frame:
            self.video.set_message(f"Opening {short_name(spec)}…")
        if self._opening is not None:
            self._opening[1].add_done_callback(_close_opened)
        self._opening = (spec, _in_thread(self._open_source, spec, loop=self.settings.loop))
        self._check_opening()

    @property
    def opening(self) -> bool:
        """A source is being opened."""
        return self._opening is not None

    def _check_opening(self) -> None:
        if self._opening is None or not self._opening[1].done():
            return
        spec, fut = self._opening
        self._opening = None
        try:
            source = fut.result()
        except Exception as e:  # noqa: BLE001 - SourceError and whatever OpenCV raises
            self.report(f"Cannot open {spec}: {describe(e)}")
            if not self.video.has_frame:
                self.video.set_message(self._empty_message())
            return
        try:
            self.runtime.open(source)
        except Exception as e:  # noqa: BLE001
            self.report(f"Cannot start {spec}: {describe(e)}")
            _close_quietly(source)
            if not self.video.has_frame:
                self.video.set_message(self._empty_message())
            return
        self._source, self._source_spec = source, spec
        self._last_frame, self._last_state_t, self._finished_shown = None, None, False
        self.timeline.clear()
        self.video.clear(f"Waiting for video from {short_name(spec)}…")
        if self._paused:
            self._set_paused(False)
        self.statusBar().showMessage(f"Opened {short_name(spec)}", 3000)
        self.setWindowTitle(f"ms2l-live – {short_name(spec)}")

    @property
    def source_spec(self) -> str | None:
        return self._source_spec

    def reconnect(self) -> None:
        """Open the current source afresh: a camera plugged back in, a stream that is up again."""
        if self._source_spec is None:
            self.statusBar().showMessage("Nothing to reconnect: open a camera, video or stream first", 4000)
            return
        self.open_source(self._source_spec)

    def toggle_pause(self) -> None:
        self._set_paused(not self._paused)

    def _set_paused(self, paused: bool) -> None:
        try:
            self.runtime.pause() if paused else self.runtime.resume()
        except Exception as e:  # noqa: BLE001
            self.report(e)
            return
        self._paused = paused
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.statusBar().showMessage("Paused" if paused else "Resumed", 2000)

    @property
    def paused(self) -> bool:
        return self._paused

    def _empty_message(self) -> str:
        if self._cameras:
            return ("Choose a camera above, or open a video (Ctrl+O), a folder of images (Ctrl+Shift+O) "
                    "or a stream URL (Ctrl+U).")
        return ("No camera found on this computer.\n\nOpen a video file (Ctrl+O), a folder of images "
                "(Ctrl+Shift+O) or a stream URL (Ctrl+U) instead.")

    # -- intents: models ---------------------------------------------------------
    def refresh_models(self) -> list[ModelEntry]:
        extra = [*self._extra_models, *([self._model] if self._model != DEFAULT else [])]
        entries = list_models(self._models_dir, extra)
        current = self._model if self._model == DEFAULT else str(Path(self._model).resolve())
        self.model_panel.set_models(entries, current)
        return entries

    def set_model(self, spec: str) -> bool:
        """Switch the runtime to model ``spec`` ("default" or a path) without a restart.

        The runtime loads it in the background (a future) while the old model keeps
        serving; the switch shows once it has loaded.  False when it was refused at once.
        """
        try:
            result = self.runtime.set_model(spec)
        except Exception as e:  # noqa: BLE001 - ModelFileError and friends
            self.report(f"Cannot use model {short_name(spec)}: {describe(e)}")
            self._show_current_model()
            return False
        if isinstance(result, Future):
            self._pending_model = (spec, result)
            self.model_panel.set_current(spec if spec == DEFAULT else str(Path(spec).resolve()))
            self.statusBar().showMessage(f"Loading model {short_name(spec)}…")
            self._check_pending_model()
        else:
            self._model_switched(spec)
        return True

    def _check_pending_model(self) -> None:
        if self._pending_model is None or not self._pending_model[1].done():
            return
        spec, fut = self._pending_model
        self._pending_model = None
        if fut.exception() is not None:
            # The runtime reports the reason through poll_errors; here the picker goes back.
            self._show_current_model()
            self.statusBar().showMessage(f"Kept {short_name(self._model)}: {short_name(spec)} did not load", 8000)
        else:
            self._model_switched(spec)

    def _show_current_model(self) -> None:
        self.model_panel.set_current(self._model if self._model == DEFAULT else str(Path(self._model).resolve()))

    @property
    def model_loading(self) -> bool:
        return self._pending_model is not None

    def _model_switched(self, spec: str) -> None:
        self._model = spec
        self._show_current_model()
        self.store.set_value("model", spec)
        self._show_card(spec)
        self.bars.set_probs(None)
        self._last_state_t = None
        self.timeline.clear()  # the old model's verdicts do not belong to the new one
        self.statusBar().showMessage(f"Model: {short_name(spec)}", 3000)

    @property
    def model(self) -> str:
        return self._model

    def add_model(self, path: str | None = None) -> bool:
        """Copy a model file into the user's models folder and switch to it."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Add a model", "", "Models (*.safetensors)")
            if not path:
                return False
        src = Path(path)
        folder = self._models_dir or user_models_dir()
        target = src
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if src.resolve().parent != folder.resolve():
                target = folder / src.name
                shutil.copy2(src, target)
        except OSError as e:
            # Still usable in place; it just will not be listed next time.
            self.statusBar().showMessage(f"Using {src.name} in place (cannot copy to {folder}: {e})", 5000)
            target = src
            self._extra_models.append(str(src))
        self.refresh_models()
        return self.set_model(str(target.resolve()))

    def _show_card(self, spec: str) -> None:
        title = "Default model" if spec == DEFAULT else Path(spec).stem
        try:
            meta = self._read_metadata(spec)
            self.model_panel.set_card(meta, title)
        except Exception as e:  # noqa: BLE001
            self.model_panel.set_card_error(describe(e))
            return
        o = meta.get("open_set") if isinstance(meta, dict) else None
        self.rejection.setEnabled(o is not None)
        if o is None:
            self.rejection_note.setText("<small>This model was trained without rejection: it always names one of "
                                        "its actions.</small>")
        else:
            neg = o.get("negatives")
            self.rejection_note.setText(
                f"<small>Calibrated to accept {o.get('known_accepted', 95):.0f} % of unseen clips of known actions"
                + (f"; rejected {neg['rejected']:.0f} % of {neg['clips']} clips of other motion" if neg else "")
                + ".</small>")

    def select_person(self, pid: int) -> None:
        """The side panel (and recording) follow the person clicked in the video."""
        try:
            self.runtime.update_settings(select=int(pid))
        except Exception as e:  # noqa: BLE001 - an older runtime without the setting
            self.report(f"Cannot select person {pid}: {describe(e)}")
            return
        self.statusBar().showMessage(f"Following person {pid}", 3000)

    # -- intents: settings -------------------------------------------------------
    def change_settings(self, **changes: Any) -> None:
        self._apply_settings(self.settings.replace(**changes))

    def _apply_settings(self, new: UiSettings, push: bool = True) -> None:
        old, self.settings = self.settings, new
        self.video.set_mirror(new.mirror)
        self.video.set_overlay(new.overlay)
        self.bars.set_threshold(new.threshold)
        for action, on in ((self.mirror_action, new.mirror), (self.overlay_action, new.overlay),
                           (self.loop_action, new.loop)):
            if action.isChecked() != on:
                action.blockSignals(True)
                action.setChecked(on)
                action.blockSignals(False)
        if push and new.loop != old.loop:
            self._loop_current_source(new.loop)
        if push:
            self.store.save(new)
            fields = self._runtime_fields()
            before = old.runtime_changes(fields)
            changes = {k: v for k, v in new.runtime_changes(fields).items() if before.get(k) != v}
            if changes:
                try:
                    self.runtime.update_settings(**changes)
                except Exception as e:  # noqa: BLE001
                    self.report(f"Cannot apply settings: {describe(e)}")
        else:
            try:  # the runtime starts with the persisted settings
                self.runtime.update_settings(**new.runtime_changes(self._runtime_fields()))
            except Exception as e:  # noqa: BLE001
                self.report(f"Cannot apply settings: {describe(e)}")

    def _loop_current_source(self, on: bool) -> None:
        """Loop (or stop looping) the file being played, without reopening it."""
        src = self._source
        if src is None or getattr(src, "live", False) or not hasattr(src, "loop"):
            return
        src.loop = on  # read by the source's own reader at its end
        if on and self._finished_shown and self._source_spec:
            self.open_source(self._source_spec)  # it already ended: play it again

    def _runtime_fields(self) -> set[str] | None:
        """The settings the runtime knows (it may not take all the UI's)."""
        current = getattr(self.runtime, "settings", None)
        if current is not None and dataclasses.is_dataclass(current):
            return {f.name for f in dataclasses.fields(current)}
        return None

    def edit_settings(self) -> None:
        dlg = SettingsDialog(self.settings, parent=self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self._apply_settings(dlg.settings())

    def show_help(self) -> None:
        HelpDialog(self.shortcut_actions(), self).exec()

    # -- errors --------------------------------------------------------------------
    def report(self, err: BaseException | str) -> None:
        """Tell the user: in the status bar always, in a message box when dialogs are on."""
        text = describe(err)
        self.errors.append(text)
        log.warning("%s", text)
        self.statusBar().showMessage(text, 15000)
        if not self._dialogs:
            return
        # One non-modal box at a time, showing the newest message: a flapping camera
        # must not bury the window under dialogs, nor block the poll timer.
        if self._error_box is None:
            self._error_box = QMessageBox(QMessageBox.Icon.Warning, "ms2l-live", text,
                                          QMessageBox.StandardButton.Ok, self)
            self._error_box.setWindowModality(Qt.WindowModality.NonModal)
        self._error_box.setText(text)
        self._error_box.show()

    @property
    def error_box(self) -> QMessageBox | None:
        return self._error_box

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.timer.stop()
        if self._opening is not None:  # still opening: close it when it is open
            self._opening[1].add_done_callback(_close_opened)
            self._opening = None
        try:
            self.store.save(self.settings)
            self.runtime.close()
        except Exception:  # noqa: BLE001 - closing must always succeed
            log.exception("closing the runtime failed")
        super().closeEvent(event)
        self.closed.emit()
