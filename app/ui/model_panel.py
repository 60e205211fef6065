"""Model picker and model card."""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from ..models import ModelEntry


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def card_markdown(meta: dict[str, Any], title: str) -> str:
    """A compact model card for the side panel: what it recognises, what it learnt from, how well.

    (``ms2l.card.model_card`` writes the full card for files; this one leads with
    what a user picking a model wants to know.)
    """
    cfg = meta.get("config", {})
    labels = list(cfg.get("labels", []))
    fps, window = cfg.get("fps"), cfg.get("window")
    lines = [f"### {title}", ""]
    if meta.get("description"):
        lines += [str(meta["description"]), ""]
    if fps and window:
        lines += [f"{len(labels)} actions · {_fmt(fps)} fps · window {window} frames ({window / fps:.1f} s)", ""]
    lines += ["**Labels**: " + (", ".join(labels) if labels else "none (an encoder without a classifier)"), ""]
    data = meta.get("data") or {}
    lines += ["**Training data**: " + ("; ".join(f"{k}: {_fmt(v)}" for k, v in data.items()) if data else "not recorded"), ""]
    metrics = meta.get("metrics") or {}
    lines.append("**Metrics**:" + ("" if metrics else " none recorded"))
    lines.append("")
    per_class: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, dict) and "top1" in v:
            lines.append(f"- {k}: top-1 {v['top1']:.2f} % on {v.get('n', '?')} clips")
            per_class = per_class or v.get("per_class") or {}
        else:
            lines.append(f"- {k}: {_fmt(v)}")
    if per_class:
        lines += ["", "| class | top-1 % |", "| --- | --- |"]
        lines += [f"| {c} | {'-' if a is None else f'{a:.1f}'} |" for c, a in per_class.items()]
    return "\n".join(lines) + "\n"


class ModelPanel(QWidget):
    """A combo box of models and the chosen model's card (labels, training data, metrics).

    It renders what it is given (:meth:`set_models`, :meth:`set_card`) and asks for
    changes through signals; the window decides what happens.
    """

    modelRequested = pyqtSignal(str)  # noqa: N815 - Qt signal naming
    addRequested = pyqtSignal()  # noqa: N815

    def __init__(self, entries: list[ModelEntry] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip("Model used for recognition; switching applies at once")
        self.combo.activated.connect(self._on_activated)
        add = QToolButton(text="Add…")
        add.setToolTip("Use a model file (.safetensors) from elsewhere")
        add.clicked.connect(self.addRequested)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.card.setMinimumHeight(120)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model"))
        row.addWidget(self.combo, 1)
        row.addWidget(add)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.card, 1)
        self._entries: list[ModelEntry] = []
        self.set_models(entries or [])

    def set_models(self, entries: list[ModelEntry], current: str | None = None) -> None:
        self._entries = list(entries)
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in self._entries:
            self.combo.addItem(e.name, e.spec)
            self.combo.setItemData(self.combo.count() - 1, e.spec, Qt.ItemDataRole.ToolTipRole)
        self.combo.blockSignals(False)
        if current is not None:
            self.set_current(current)

    def set_current(self, spec: str) -> None:
        i = self.combo.findData(spec)
        if i >= 0:
            self.combo.setCurrentIndex(i)

    def current(self) -> str | None:
        return self.combo.currentData()

    def specs(self) -> list[str]:
        return [e.spec for e in self._entries]

    def set_card(self, meta: dict[str, Any], title: str) -> None:
        self.card.setMarkdown(card_markdown(meta, title))

    def set_card_error(self, text: str) -> None:
        self.card.setMarkdown(f"**This model cannot be used.**\n\n{text}\n")

    def card_text(self) -> str:
        return self.card.toPlainText()

    def _on_activated(self, index: int) -> None:
        spec = self.combo.itemData(index)
        if spec is not None:
            self.modelRequested.emit(spec)
