"""Fine-tune from the app: choose actions and strategy (defaults: everything, ``finetune``), press
Train; a cancellable background job with a progress bar and a live loss / accuracy plot; the result
shows per-class validation accuracy and the confusion matrix, and "Make live" switches the window
to the new model.  The training itself is :class:`app.finetune.FinetuneJob` (Qt-free).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QPointF, Qt, QThread, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import (
    QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QListWidget,
    QListWidgetItem, QProgressBar, QPushButton, QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from ..finetune import STRATEGIES, FinetuneJob, FinetuneResult, FinetuneSpec
from ..clips import Library
from ..errors import Cancelled, describe

STRATEGY_TEXT = {"linear": "Linear (fastest)", "prototype": "Prototypes (a few clips)", "finetune": "Fine-tune (default)",
                 "joint": "Joint (+ MS²L tasks)"}
STRATEGY_TIP = {
    "prototype": "Keep the encoder; each action becomes the average of its clips (no training: instant).",
    "linear": "Keep the encoder as it is and learn only the classifier: seconds.",
    "finetune": "Learn the classifier, then adjust every layer a little at a small learning rate.",
    "joint": "Fine-tune, with the MS²L self-supervised tasks on your unlabelled clips (or the labelled ones).",
}


class TrainWorker(QObject):
    """Runs a :class:`FinetuneJob` on a QThread and reports through signals."""

    progress = pyqtSignal(dict)
    succeeded = pyqtSignal(object)  # FinetuneResult
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, job: FinetuneJob) -> None:
        super().__init__()
        self.job = job

    def run(self) -> None:
        try:
            result = self.job.run(progress=self.progress.emit)
        except Cancelled:
            self.cancelled.emit()
        except Exception as e:  # noqa: BLE001 - the dialog shows every failure as a message
            self.failed.emit(describe(e))
        else:
            self.succeeded.emit(result)


class LossPlot(QWidget):
    """Live training curves: loss (left scale, auto) and train / validation accuracy (right scale, 0–100 %)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.epochs = 1
        self.loss: list[tuple[int, float]] = []
        self.train_acc: list[tuple[int, float]] = []
        self.val_acc: list[tuple[int, float]] = []
        self.stages: list[tuple[int, str]] = []  # (first epoch, name)

    def clear(self, epochs: int = 1) -> None:
        self.epochs, self.loss, self.train_acc, self.val_acc, self.stages = max(1, epochs), [], [], [], []
        self.update()

    def add(self, ev: dict[str, Any]) -> None:
        if str(ev.get("fit", "")).startswith("fold"):
            return  # cross-validation folds: the bar and status show them; the plot follows the final model
        e = int(ev.get("epoch", len(self.loss) + 1))
        self.epochs = max(self.epochs, int(ev.get("epochs", e)))
        stage = ev.get("stage")
        if stage and (not self.stages or self.stages[-1][1] != stage):
            self.stages.append((e, str(stage)))
        if ev.get("loss") is not None and math.isfinite(ev["loss"]):
            self.loss.append((e, float(ev["loss"])))
        if ev.get("train_acc") is not None:
            self.train_acc.append((e, float(ev["train_acc"])))
        if ev.get("val_acc") is not None:
            self.val_acc.append((e, float(ev["val_acc"])))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(250, 250, 250))
        m = 34
        w, h = self.width() - 2 * m, self.height() - 2 * 18
        if w < 10 or h < 10:
            return
        p.setPen(QColor(190, 190, 190))
        p.drawRect(m, 18, w, h)
        p.setPen(QColor(90, 90, 90))
        p.drawText(4, 14, "loss")
        p.drawText(self.width() - m, 14, "acc %")
        p.drawText(m, self.height() - 3, f"epoch 1 … {self.epochs}")
        lmax = max([v for _, v in self.loss] or [1.0]) * 1.05
        for first, name in self.stages:  # where the probe ends and fine-tuning starts
            x = m + w * (first - 1) / max(1, self.epochs - 1)
            p.setPen(QPen(QColor(160, 160, 160), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, 18), QPointF(x, 18 + h))
            p.setPen(QColor(120, 120, 120))
            p.drawText(QPointF(x + 3, 18 + h - 4), {"linear": "probe", "finetune": "fine-tune"}.get(name, name))

        def xy(e: float, v: float, top: float) -> QPointF:
            return QPointF(m + w * (e - 1) / max(1, self.epochs - 1), 18 + h * (1 - v / top))

        for pts, top, colour in ((self.loss, lmax, QColor(40, 90, 200)), (self.train_acc, 100.0, QColor(150, 150, 150)),
                                 (self.val_acc, 100.0, QColor(220, 80, 30))):
            if not pts:
                continue
            p.setPen(QPen(colour, 2))
            for a, b in zip(pts, pts[1:]):
                p.drawLine(xy(a[0], a[1], top), xy(b[0], b[1], top))
            if len(pts) == 1:
                p.drawEllipse(xy(pts[0][0], pts[0][1], top), 2, 2)
        p.setPen(QColor(40, 90, 200))
        p.drawText(m + 6, 32, f"loss {self.loss[-1][1]:.3f}" if self.loss else "loss")
        p.setPen(QColor(220, 80, 30))
        p.drawText(m + 6, 48, f"validation {self.val_acc[-1][1]:.0f} %" if self.val_acc else "")
        p.setPen(QColor(130, 130, 130))
        p.drawText(m + 6, 64, f"training {self.train_acc[-1][1]:.0f} %" if self.train_acc else "")


class TrainDialog(QDialog):
    """Choose, train, inspect, make live.

    Args:
        library: the clip library.
        registry: where models are saved (default: the user's model registry).
        encoder: the encoder to start from (default: the shipped model's).
    Signals ``modelReady(path)`` when "Make live" is pressed, ``finishedRun(result_or_None)``.
    """

    modelReady = pyqtSignal(str)  # noqa: N815
    finishedRun = pyqtSignal(object)  # noqa: N815

    def __init__(self, library: Library, *, registry: str | Path | None = None, encoder: str = "default",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on my clips")
        self.library, self.registry, self.encoder = library, registry, encoder
        self.result: FinetuneResult | None = None
        self.error: str | None = None
        self.events: list[dict[str, Any]] = []
        self.job: FinetuneJob | None = None
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None

        self.labels = QListWidget()
        self.labels.setToolTip("The actions the new model will recognise")
        self.strategy = QComboBox()
        for s in STRATEGIES:
            self.strategy.addItem(STRATEGY_TEXT[s], s)
            self.strategy.setItemData(self.strategy.count() - 1, STRATEGY_TIP[s], Qt.ItemDataRole.ToolTipRole)
        self.strategy.setCurrentIndex(STRATEGIES.index("finetune"))
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 500)
        self.epochs.setSpecialValueText("automatic")
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.0, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.2)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.live_button = QPushButton("Make live")
        self.live_button.setEnabled(False)
        self.live_button.clicked.connect(self.make_live)
        self.progress = QProgressBar()
        self.status = QLabel("Choose the actions, then Train.")
        self.status.setWordWrap(True)
        self.plot = LossPlot()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.per_class = QTableWidget(0, 2)
        self.per_class.setHorizontalHeaderLabels(["Action", "top-1 %"])
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.per_class.setMaximumWidth(250)
        self.confusion = QTableWidget(0, 0)
        self.confusion.setToolTip("Rows: the true action; columns: what the model said")

        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        form.addRow("Epochs", self.epochs)
        form.addRow("Held out for validation", self.val_fraction)
        self.val_fraction.setToolTip("Used when every action has at least 5 clips; with fewer, every clip is "
                                     "learnt from and the accuracy is cross-validated")
        choose = QGroupBox("Actions")
        choose.setMaximumWidth(340)
        cl = QVBoxLayout(choose)
        cl.addWidget(self.labels)
        cl.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.live_button)
        results = QGroupBox("Result")
        rl = QHBoxLayout(results)
        rl.addWidget(self.per_class, 4)
        rl.addWidget(self.confusion, 5)
        right = QVBoxLayout()
        right.addWidget(self.plot, 2)
        right.addWidget(self.summary)
        right.addWidget(results, 3)
        top = QHBoxLayout()
        top.addWidget(choose, 2)
        top.addLayout(right, 5)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.resize(980, 640)
        self.refresh_labels()

    # -- choices -------------------------------------------------------------------------------------
    def refresh_labels(self) -> None:
        """List the library's actions with their clip counts, all ticked."""
        self.labels.clear()
        for name, n in self.library.labels().items():
            item = QListWidgetItem(f"{name} ({n} clip{'s' if n != 1 else ''})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.labels.addItem(item)
        unl = self.library.unlabelled_count()
        if unl:
            self.labels.setToolTip(f"{unl} unlabelled clip(s) are used by the joint strategy")

    def chosen_labels(self) -> tuple[str, ...]:
        return tuple(self.labels.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.labels.count())
                     if self.labels.item(i).checkState() == Qt.CheckState.Checked)

    def spec(self) -> FinetuneSpec:
        return FinetuneSpec(labels=self.chosen_labels(), strategy=self.strategy.currentData(), encoder=self.encoder,
                            epochs=self.epochs.value() or None, val_fraction=self.val_fraction.value())

    # -- running ---------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> bool:
        if self.running:
            return False
        labels = self.chosen_labels()
        if len(labels) < 2:
            self.status.setText("Tick at least two actions: a recogniser tells actions apart.")
            return False
        self.result, self.error, self.events = None, None, []
        self.job = FinetuneJob(self.spec(), self.library.root, registry=self.registry)
        self._worker = TrainWorker(self.job)
        self._thread = QThread(self)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.succeeded.connect(self._on_succeeded)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self.plot.clear()
        self.progress.setRange(0, 0)
        self.per_class.setRowCount(0)
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.summary.setText("")
        self.live_button.setEnabled(False)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Starting…")
        self._thread.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling…")

    def _on_progress(self, ev: dict) -> None:
        self.events.append(ev)
        if ev.get("message"):
            self.status.setText(ev["message"])
        if ev.get("phase") == "train":
            self.progress.setRange(0, int(ev["epochs"]))
            self.progress.setValue(int(ev["epoch"]))
            self.plot.add(ev)

    def _end(self) -> None:
        th, self._thread, self._worker = self._thread, None, None
        if th is not None:
            th.quit()
            th.wait(10000)
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)

    def _on_succeeded(self, result: FinetuneResult) -> None:
        self._end()
        self.result = result
        self.progress.setValue(1)
        self.show_result(result)
        self.live_button.setEnabled(True)
        self.finishedRun.emit(result)

    def _on_failed(self, text: str) -> None:
        self._end()
        self.error = text
        self.progress.setValue(0)
        self.status.setText(f"Training failed: {text}")
        self.finishedRun.emit(None)

    def _on_cancelled(self) -> None:
        self._end()
        self.progress.setValue(0)
        self.status.setText("Training cancelled: nothing was saved.")
        self.finishedRun.emit(None)

    # -- result -----------------------------------------------------------------------------------------
    def show_result(self, result: FinetuneResult) -> None:
        m = result.metrics
        if result.validation is not None and "folds" in result.validation:
            which = "cross-validated"
        else:
            which = "validation" if result.validation is not None else "training (no clips held out)"
        self.summary.setText(
            f"<b>{result.model_path.stem}</b>: {which} top-1 <b>{m['top1']:.1f} %</b> on {m['n']} clips · "
            f"trained on {result.n_train} clips in {result.train_seconds:.1f} s ({result.strategy})<br>"
            f"How reliable: {result.reliability}<br>"
            f"None of these: {result.rejection}")
        self.status.setText(f"Saved {result.model_path} — press Make live to use it now.")
        names = list(m["per_class"])
        self.per_class.setRowCount(len(names))
        for r, name in enumerate(names):
            acc = m["per_class"][name]
            self.per_class.setItem(r, 0, QTableWidgetItem(name))
            cell = QTableWidgetItem("–" if acc is None else f"{acc:.0f}")
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.per_class.setItem(r, 1, cell)
        cm = np.asarray(m["confusion"], int)
        k = len(names)
        self.confusion.setRowCount(k)
        self.confusion.setColumnCount(k)
        # Numbered columns keep the matrix narrow; the rows name the actions.
        self.confusion.setHorizontalHeaderLabels([str(i + 1) for i in range(k)])
        self.confusion.setVerticalHeaderLabels([f"{i + 1} {n if len(n) <= 18 else n[:17] + '…'}"
                                                for i, n in enumerate(names)])
        for i in range(k):
            row = max(1, cm[i].sum())
            for j in range(k):
                cell = QTableWidgetItem(str(cm[i, j]))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = cm[i, j] / row
                base = (60, 160, 60) if i == j else (210, 70, 50)
                cell.setBackground(QBrush(QColor(*base, int(30 + 200 * share) if cm[i, j] else 0)))
                cell.setToolTip(f"true {names[i]}, said {names[j]}: {cm[i, j]}")
                self.confusion.setItem(i, j, cell)
        self.confusion.resizeColumnsToContents()
        self.per_class.resizeRowsToContents()

    def make_live(self) -> str | None:
        if self.result is None:
            return None
        path = str(self.result.model_path)
        self.modelReady.emit(path)
        self.status.setText(f"{Path(path).stem} is live.")
        return path

    def reject(self) -> None:  # closing cancels a run first
        if self.running:
            self.cancel()
            if self._thread is not None:
                self._thread.quit()
                self._thread.wait(30000)
        super().reject()
