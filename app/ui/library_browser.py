"""The clip library browser: clips per label with counts, replay as an animated skeleton, relabel,
trim, delete with undo, import (videos with pose extraction and a progress bar; NTU / NW-UCLA /
PKU-MMD files; exported folders) and export as a dataset folder.

Imports run on a worker thread (:class:`ImportWorker`) so the window stays live; the library
itself is thread-safe (one connection behind a lock, one transaction per clip).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from PyQt6.QtCore import QObject, Qt, QThread, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QProgressBar, QPushButton, QSplitter,
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from ..clips import ClipInfo, Library, LibraryError
from .skeleton_player import SkeletonPlayer, TrimDialog

UNLABELLED = "(unlabelled)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"
SKELETON_FILTER = "Skeleton files (*.skeleton *.json *.txt *.npz);;All files (*)"


class ImportCancelled(Exception):
    """Raised from the progress callback to stop an import."""


class ImportWorker(QObject):
    """Imports files into the library on a QThread; reports ``progress(done, total, text)``.

    ``kind``: ``video`` (pose extraction, one clip per file, ``label``), ``skeleton``
    (NTU/NW-UCLA/PKU-MMD/.npz files) or ``folder`` (an exported dataset).
    """

    progress = pyqtSignal(int, int, str)
    finished = pyqtSignal(list)  # new clip ids
    failed = pyqtSignal(str)

    def __init__(self, library: Library, kind: str, paths: Sequence[str], label: str | None = None,
                 options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.library, self.kind, self.paths, self.label = library, kind, list(paths), label
        self.options = options or {}
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    def run(self) -> None:
        ids: list[int] = []
        try:
            for k, p in enumerate(self.paths):
                name = Path(p).name
                if self.kind == "video":
                    def cb(done: int, total: int, k: int = k, name: str = name) -> None:
                        if self._cancel:
                            raise ImportCancelled()
                        # One bar over all files: each file is 1000 steps, its frames a share of them.
                        frac = done / total if total else 0.0
                        self.progress.emit(k * 1000 + int(1000 * min(frac, 1.0)), 1000 * len(self.paths),
                                           f"Extracting poses from {name}: frame {done}" + (f"/{total}" if total else ""))
                    ids.append(self.library.import_video(p, self.label, progress=cb, **self.options))
                elif self.kind == "folder":
                    ids += self.library.import_folder(p)
                else:
                    ids += self.library.import_skeleton_file(p, self.label)
                self.progress.emit((k + 1) * 1000, 1000 * len(self.paths), f"Imported {name}")
                if self._cancel:
                    raise ImportCancelled()
        except ImportCancelled:
            self.failed.emit(f"Import cancelled ({len(ids)} clip(s) kept)")
            self.finished.emit(ids)
            return
        except Exception as e:  # noqa: BLE001 - every failure reaches the user as a message
            self.failed.emit(f"Import of {Path(self.paths[min(len(ids), len(self.paths) - 1)]).name} failed: {e}")
            self.finished.emit(ids)
            return
        self.finished.emit(ids)


class LibraryBrowser(QWidget):
    """Browse and edit the clip library.

    Dialog-free entry points (used by tests, and by the buttons once they have asked):
    :meth:`relabel_selected`, :meth:`trim_selected`, :meth:`delete_selected`, :meth:`undo`,
    :meth:`import_files`, :meth:`export_to`.
    """

    changed = pyqtSignal()  # the library's contents changed
    message = pyqtSignal(str)

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._undo: list[list[int]] = []  # deletions that can be undone, newest last
        self._thread: QThread | None = None
        self.worker: ImportWorker | None = None
        self.last_import: list[int] = []

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Clip", "Length", "Source", "Recorded"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.player = SkeletonPlayer()
        self.player.message = "Select a clip to replay it"
        self.summary = QLabel()
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_import)

        self.relabel_button = QPushButton("Relabel…")
        self.trim_button = QPushButton("Trim…")
        self.delete_button = QPushButton("Delete")
        self.undo_button = QPushButton("Undo delete")
        self.import_video_button = QPushButton("Import videos…")
        self.import_skel_button = QPushButton("Import skeleton files…")
        self.export_button = QPushButton("Export…")
        self.relabel_button.clicked.connect(lambda: self.relabel_selected())
        self.trim_button.clicked.connect(lambda: self.trim_selected())
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo)
        self.import_video_button.clicked.connect(lambda: self.import_files(kind="video"))
        self.import_skel_button.clicked.connect(lambda: self.import_files(kind="skeleton"))
        self.export_button.clicked.connect(lambda: self.export_to())
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self, self.delete_selected)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self, self.undo)

        edit = QHBoxLayout()
        for b in (self.relabel_button, self.trim_button, self.delete_button, self.undo_button):
            edit.addWidget(b)
        io_row = QHBoxLayout()
        for b in (self.import_video_button, self.import_skel_button, self.export_button):
            io_row.addWidget(b)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.summary)
        lv.addWidget(self.tree, 1)
        lv.addLayout(edit)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.player)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addLayout(io_row)
        lay.addLayout(prog)
        lay.addWidget(self.progress_text)
        self.refresh()

    # -- listing -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the tree from the library, keeping the selection where possible."""
        keep = set(self.selected_ids())
        expanded = {self.tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                    for i in range(self.tree.topLevelItemCount()) if self.tree.topLevelItem(i).isExpanded()}
        self.tree.blockSignals(True)
        self.tree.clear()
        groups: dict[str | None, list[ClipInfo]] = {}
        for info in self.library.list():
            groups.setdefault(info.label, []).append(info)
        for label in sorted(groups, key=lambda s: (s is None, s or "")):
            infos = groups[label]
            top = QTreeWidgetItem([f"{label or UNLABELLED} ({len(infos)})"])
            top.setData(0, Qt.ItemDataRole.UserRole, label or UNLABELLED)
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            self.tree.addTopLevelItem(top)
            for info in infos:
                item = QTreeWidgetItem([f"#{info.id}", f"{info.duration_s:.1f} s ({info.frames})"
                                        + (f" · {info.persons} people" if info.persons > 1 else ""),
                                        Path(info.source).name if "/" in info.source else info.source,
                                        time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at))])
                item.setData(0, Qt.ItemDataRole.UserRole, info.id)
                item.setToolTip(2, info.source)
                top.addChild(item)
                if info.id in keep:
                    item.setSelected(True)
            top.setExpanded(not expanded or (label or UNLABELLED) in expanded or bool(keep & {i.id for i in infos}))
        self.tree.blockSignals(False)
        for c in range(4):
            self.tree.resizeColumnToContents(c)
        n_labels = len([k for k in groups if k is not None])
        self.summary.setText(f"{sum(len(v) for v in groups.values())} clips, {n_labels} actions"
                             + (f" · {len(self.library.list(deleted=True))} in the bin" if self._undo else ""))
        self.undo_button.setEnabled(bool(self._undo))
        self._selection_changed()

    def counts(self) -> dict[str, int]:
        """Clips per label as the tree shows them (``(unlabelled)`` for clips without one)."""
        out = {}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out[top.data(0, Qt.ItemDataRole.UserRole)] = top.childCount()
        return out

    def select(self, ids: Sequence[int]) -> None:
        want = set(ids)
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for k in range(top.childCount()):
                if top.child(k).data(0, Qt.ItemDataRole.UserRole) in want:
                    top.child(k).setSelected(True)

    def selected_ids(self) -> list[int]:
        return [it.data(0, Qt.ItemDataRole.UserRole) for it in self.tree.selectedItems() if it.parent() is not None]

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        for b in (self.relabel_button, self.delete_button):
            b.setEnabled(bool(ids))
        self.trim_button.setEnabled(len(ids) == 1)
        if len(ids) == 1:
            try:
                clip = self.library.get(ids[0])
            except LibraryError:
                return
            self.player.set_clip(clip.joints, clip.confidence, clip.timestamps)
            self.player.play()
        else:
            self.player.pause()
            self.player.set_clip(None)

    # -- editing ------------------------------------------------------------------------------------
    def relabel_selected(self, label: str | None = None) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        if label is None:
            names = list(self.library.labels())
            label, ok = QInputDialog.getItem(self, "Relabel", f"New label for {len(ids)} clip(s):", names,
                                             editable=True)
            if not ok or not label.strip():
                return 0
        n = self.library.relabel(ids, None if label == UNLABELLED else label)
        self._changed(f"Relabelled {n} clip(s) as {label}")
        return n

    def trim_selected(self, bounds: tuple[int, int] | None = None) -> bool:
        ids = self.selected_ids()
        if len(ids) != 1:
            return False
        if bounds is None:
            clip = self.library.get(ids[0])
            dlg = TrimDialog(clip.joints, clip.confidence, clip.timestamps, title=f"Trim clip #{clip.id}", parent=self)
            if dlg.exec() != TrimDialog.DialogCode.Accepted:
                return False
            bounds = dlg.bounds()
        info = self.library.trim(ids[0], *bounds)
        self._changed(f"Trimmed clip #{info.id} to {info.frames} frames")
        return True

    def delete_selected(self) -> list[int]:
        ids = self.selected_ids()
        if not ids:
            return []
        done = self.library.delete(ids)
        if done:
            self._undo.append(done)
        self._changed(f"Deleted {len(done)} clip(s): Undo (Ctrl+Z) brings them back")
        return done

    def undo(self) -> list[int]:
        """Bring back the clips of the last delete."""
        if not self._undo:
            return []
        done = self.library.undelete(self._undo.pop())
        self._changed(f"Restored {len(done)} clip(s)")
        self.select(done)
        return done

    def _changed(self, text: str) -> None:
        self.refresh()
        self.progress_text.setText(text)
        self.message.emit(text)
        self.changed.emit()

    # -- import / export -----------------------------------------------------------------------------
    def import_files(self, paths: Sequence[str] | None = None, *, kind: str = "video", label: str | None = None,
                     **options: Any) -> bool:
        """Import in the background; asks for files (and, for videos, the label) when not given."""
        if self.importing:
            return False
        if paths is None:
            if kind == "video":
                paths, _ = QFileDialog.getOpenFileNames(self, "Import videos", "", VIDEO_FILTER)
            else:
                paths, _ = QFileDialog.getOpenFileNames(self, "Import skeleton files", "", SKELETON_FILTER)
            if not paths:
                return False
        if kind == "video" and label is None:
            label, ok = QInputDialog.getItem(self, "Label", "What do these videos show?", list(self.library.labels()),
                                             editable=True)
            if not ok or not label.strip():
                return False
        self.worker = ImportWorker(self.library, kind, paths, label, options)
        self._thread = QThread(self)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress_text.setText(f"Importing {len(paths)} file(s)…")
        self._thread.start()
        return True

    @property
    def importing(self) -> bool:
        return self._thread is not None

    def cancel_import(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress_text.setText(text)

    def _on_failed(self, text: str) -> None:
        self.progress_text.setText(text)
        self.message.emit(text)

    def _on_finished(self, ids: list) -> None:
        th, self._thread = self._thread, None
        self.worker = None
        if th is not None:
            th.quit()
            th.wait(5000)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.last_import = list(ids)
        if ids:
            self.refresh()
            self.select(ids)
            if not self.progress_text.text().startswith(("Import cancelled", "Import of")):
                self.progress_text.setText(f"Imported {len(ids)} clip(s)")
            self.changed.emit()

    def export_to(self, folder: str | Path | None = None) -> dict[str, Any] | None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export the library to an empty folder")
            if not folder:
                return None
        try:
            summary = self.library.export(folder)
        except (LibraryError, OSError) as e:
            self._on_failed(f"Export failed: {e}")
            return None
        self.progress_text.setText(f"Exported {summary['clips']} clips to {folder}")
        return summary

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.cancel_import()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(5000)
        self.player.pause()
        super().closeEvent(event)


def wait_import(browser: LibraryBrowser, timeout_s: float = 60.0, process: Callable[[], None] | None = None) -> None:
    """Block (processing events) until the browser's import ends; for scripts and tests."""
    from PyQt6.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while browser.importing and time.monotonic() < end:
        (process or QApplication.processEvents)()
        time.sleep(0.01)
