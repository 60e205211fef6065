"""Wires the clip library into the live window: a Record dock, a Library menu, the browser and
the training dialog.  The one hook in :class:`app.ui.main_window.MainWindow` calls :func:`install_library`.

Shortcuts: R record / stop, Ctrl+L the clip library, Ctrl+T train on my clips.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QDialog, QDockWidget, QMainWindow, QVBoxLayout

from ..clips import Library, LibraryError
from .library_browser import LibraryBrowser
from .record import RecordPanel
from .train_dialog import TrainDialog


class LibraryUi:
    """The library features of one window (``window.library_ui``)."""

    def __init__(self, window: QMainWindow, library: Library, registry: Path | None = None,
                 countdown_s: float = 3.0) -> None:
        self.window, self.library, self.registry = window, library, registry
        self.record = RecordPanel(window.runtime.snapshot, library, countdown_s=countdown_s,
                                  model_persons=lambda: _model_persons(window.runtime))
        self.record.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
        self.dock = QDockWidget("Record", window)
        self.dock.setObjectName("record-dock")
        self.dock.setWidget(self.record)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.browser_dialog: QDialog | None = None
        self.browser: LibraryBrowser | None = None
        self.train_dialog: TrainDialog | None = None

        def act(text: str, key: str, slot: Any) -> QAction:
            a = QAction(text, window)
            a.setShortcut(QKeySequence(key))
            a.triggered.connect(slot)
            window.addAction(a)
            return a

        self.record_action = act("&Record / stop", "R", self.record.toggle)
        self.browser_action = act("Clip &library…", "Ctrl+L", self.show_browser)
        self.train_action = act("&Train on my clips…", "Ctrl+T", self.show_train)
        menu = window.menuBar().addMenu("&Library")
        for a in (self.record_action, self.browser_action, self.train_action):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.dock.toggleViewAction())

    def actions(self) -> list[QAction]:
        return [self.record_action, self.browser_action, self.train_action]

    def show_browser(self) -> LibraryBrowser:
        if self.browser_dialog is None:
            dlg = QDialog(self.window)
            dlg.setWindowTitle(f"Clip library – {self.library.root}")
            self.browser = LibraryBrowser(self.library)
            self.browser.changed.connect(lambda: self.record.refresh_labels())
            self.browser.message.connect(lambda text: self.window.statusBar().showMessage(text, 6000))
            QVBoxLayout(dlg).addWidget(self.browser)
            dlg.resize(900, 560)
            self.browser_dialog = dlg
        self.browser.refresh()
        self.browser_dialog.show()
        self.browser_dialog.raise_()
        return self.browser

    def show_train(self) -> TrainDialog:
        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self.library, registry=self.registry, parent=self.window)
            self.train_dialog.modelReady.connect(self.make_live)
        if not self.train_dialog.running:
            self.train_dialog.refresh_labels()
        self.train_dialog.show()
        self.train_dialog.raise_()
        return self.train_dialog

    def make_live(self, path: str) -> None:
        """Use a freshly trained model now: list it, then switch the runtime to it."""
        self.window.refresh_models()
        self.window.set_model(path)


def _model_persons(runtime: Any) -> int:
    """Persons the runtime's model takes (1 when it cannot say, as the test runtimes cannot)."""
    config = getattr(getattr(runtime, "recognizer", None), "config", None)
    return int(getattr(config, "persons", 1) or 1)


def install_library(window: QMainWindow, library: Library | str | Path, registry: Path | None = None,
                    **kw: Any) -> LibraryUi | None:
    """Add the library features to ``window``; a library that cannot be opened becomes a message."""
    try:
        lib = library if isinstance(library, Library) else Library(library)
    except (LibraryError, OSError) as e:
        window.report(f"The clip library cannot be opened: {e}")
        return None
    return LibraryUi(window, lib, registry, **kw)
