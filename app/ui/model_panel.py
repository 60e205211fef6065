"""Model picker and model card."""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from ms2l.card import model_card

from .models import ModelEntry


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
        self.card.setMarkdown(model_card(meta, title=title))

    def set_card_error(self, text: str) -> None:
        self.card.setMarkdown(f"**This model cannot be used.**\n\n{text}\n")

    def card_text(self) -> str:
        return self.card.toPlainText()

    def _on_activated(self, index: int) -> None:
        spec = self.combo.itemData(index)
        if spec is not None:
            self.modelRequested.emit(spec)
