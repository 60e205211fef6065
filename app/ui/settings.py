"""User settings: what they are, where they persist (QSettings), and the dialog that edits them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget,
)


@dataclass(frozen=True)
class UiSettings:
    """Everything the user can set, with the defaults a first run gets.

    threshold: minimum smoothed probability for an action to be named.
    smoothing: how much each prediction is averaged with the previous ones (0 = none).
    window: frames the model sees at its own frame rate.
    device: inference device ("cpu", "cuda", ...).
    mirror: show the video mirrored, as a selfie camera is expected to look.
    overlay: draw the skeleton over the video.
    loop: play video files again from the start when they end.
    """

    threshold: float = 0.5
    smoothing: float = 0.6
    window: int = 64
    device: str = "cpu"
    mirror: bool = False
    overlay: bool = True
    loop: bool = False

    def replace(self, **changes: Any) -> "UiSettings":
        return dataclasses.replace(self, **changes)

    def runtime_changes(self, runtime_fields: set[str] | None = None) -> dict[str, Any]:
        """The settings the runtime acts on (those named in ``runtime_fields`` when given)."""
        d = {k: getattr(self, k) for k in ("threshold", "smoothing", "window", "device", "mirror")}
        return d if runtime_fields is None else {k: v for k, v in d.items() if k in runtime_fields}


class SettingsStore:
    """Loads and saves :class:`UiSettings` in a ``QSettings``.

    Pass a ``QSettings`` (e.g. an ini file in a temporary folder) to keep tests away
    from the user's real settings.
    """

    GROUP = "live"

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings if qsettings is not None else QSettings("ms2l-live", "ms2l-live")

    def load(self) -> UiSettings:
        base = UiSettings()
        values: dict[str, Any] = {}
        self.qsettings.beginGroup(self.GROUP)
        try:
            for f in dataclasses.fields(UiSettings):
                default = getattr(base, f.name)
                if not self.qsettings.contains(f.name):
                    continue
                try:
                    # type= converts the strings an ini file stores ("true", "0.5") back.
                    values[f.name] = self.qsettings.value(f.name, default, type=type(default))
                except (TypeError, ValueError):
                    pass  # a hand-edited, unreadable value: keep the default
        finally:
            self.qsettings.endGroup()
        return base.replace(**values)

    def save(self, settings: UiSettings) -> None:
        self.qsettings.beginGroup(self.GROUP)
        for k, v in dataclasses.asdict(settings).items():
            self.qsettings.setValue(k, v)
        self.qsettings.endGroup()
        self.qsettings.sync()

    def value(self, key: str, default: str = "") -> str:
        """Free-form app state (last model, last folder), outside the settings group."""
        v = self.qsettings.value(key, default)
        return default if v is None else str(v)

    def set_value(self, key: str, value: str) -> None:
        self.qsettings.setValue(key, value)


def available_devices() -> list[str]:
    """"cpu", plus "cuda" where torch sees a GPU."""
    devices = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
    except Exception:  # noqa: BLE001 - a broken torch must not stop the settings dialog
        pass
    return devices


class SettingsDialog(QDialog):
    """Edits a copy of the settings; :meth:`settings` returns the result when accepted."""

    def __init__(self, settings: UiSettings, devices: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        form = QFormLayout(self)

        self.threshold = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05, value=settings.threshold)
        self.threshold.setToolTip("An action is named only when its smoothed probability reaches this.")
        self.smoothing = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99, singleStep=0.05, value=settings.smoothing)
        self.smoothing.setToolTip("0: every prediction as it comes; closer to 1: steadier but slower to change.")
        self.window = QSpinBox(minimum=8, maximum=300, singleStep=8, value=settings.window, suffix=" frames")
        self.window.setToolTip("How many frames (at the model's frame rate) each prediction looks at.")
        self.device = QComboBox()
        devs = list(devices or available_devices())
        if settings.device not in devs:
            devs.append(settings.device)
        self.device.addItems(devs)
        self.device.setCurrentText(settings.device)
        self.mirror = QCheckBox("Mirror the video (selfie view)", checked=settings.mirror)
        self.overlay = QCheckBox("Draw the skeleton", checked=settings.overlay)
        self.loop = QCheckBox("Loop video files", checked=settings.loop)

        form.addRow("Confidence threshold", self.threshold)
        form.addRow("Smoothing", self.smoothing)
        form.addRow("Window length", self.window)
        form.addRow("Inference device", self.device)
        form.addRow(self.mirror)
        form.addRow(self.overlay)
        form.addRow(self.loop)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(lambda: self._show(UiSettings()))
        form.addRow(buttons)

    def _show(self, s: UiSettings) -> None:
        self.threshold.setValue(s.threshold)
        self.smoothing.setValue(s.smoothing)
        self.window.setValue(s.window)
        self.device.setCurrentText(s.device)
        self.mirror.setChecked(s.mirror)
        self.overlay.setChecked(s.overlay)
        self.loop.setChecked(s.loop)

    def settings(self) -> UiSettings:
        return self._base.replace(
            threshold=round(self.threshold.value(), 4), smoothing=round(self.smoothing.value(), 4),
            window=self.window.value(), device=self.device.currentText(),
            mirror=self.mirror.isChecked(), overlay=self.overlay.isChecked(), loop=self.loop.isChecked(),
        )
