"""User settings: what they are, where they persist (QSettings), and the dialog that edits them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget,
)


SOURCE_MIRRORED: dict[str, bool | None] = {"auto": None, "yes": True, "no": False}


#: The "none of these" slider's range (multiples of the model's calibrated threshold).
REJECTION_RANGE = (0.25, 4.0)


def rejection_from_slider(v: int) -> float:
    """Slider position 0..100 -> rejection 0.25..4 on a log scale (50 -> 1, the calibrated threshold)."""
    return round(float(2.0 ** ((int(v) - 50) / 25.0)), 4)


def slider_from_rejection(r: float) -> int:
    import math

    return int(round(50 + 25 * math.log2(min(max(r, REJECTION_RANGE[0]), REJECTION_RANGE[1]))))


@dataclass(frozen=True)
class UiSettings:
    """Everything the user can set, with the defaults a first run gets.

    threshold: minimum smoothed probability for an action to be named.
    smoothing: how much each prediction is averaged with the previous ones (0 = none).
    window: frames the model sees at its own frame rate (0: the model's own window).
    device: inference device: "auto" (a GPU when there is one), "cpu", "cuda".
    mirror: show the video mirrored, as a selfie view is expected to look (display only).
    source_mirrored: whether the camera's image is itself a mirror image, which the pose
        stage must undo so left and right are the subject's: "auto" (as the source says),
        "yes" or "no".
    overlay: draw the skeleton over the video.
    loop: play video files again from the start when they end.
    persons: people followed at once (1: the fast single-person path); pose_tiles: strips for the
        multi-person pose detector (2 for small people in a wide frame; 0, "auto": chosen from
        the people seen).
    rejection: how readily "none of these" is said (the model's calibrated threshold times this;
        below 1 stricter, above 1 more lenient).
    """

    threshold: float = 0.5
    smoothing: float = 0.6
    window: int = 0
    device: str = "auto"
    mirror: bool = False
    source_mirrored: str = "auto"
    overlay: bool = True
    loop: bool = False
    rejection: float = 1.0
    persons: int = 3
    pose_tiles: int = 0

    def replace(self, **changes: Any) -> "UiSettings":
        return dataclasses.replace(self, **changes)

    def runtime_changes(self, runtime_fields: set[str] | None = None) -> dict[str, Any]:
        """These settings as ``RuntimeSettings`` fields (only those in ``runtime_fields`` when given).

        The display mirror stays in the UI; the runtime's ``mirror`` is the source's own
        mirroring (None: trust the source).
        """
        d = {"threshold": self.threshold, "smoothing": self.smoothing, "window": self.window or None,
             "device": self.device, "mirror": SOURCE_MIRRORED[self.source_mirrored], "rejection": self.rejection,
             "persons": self.persons, "pose_tiles": self.pose_tiles}
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
        # Hand-edited or stale values are clamped to what the runtime accepts.
        if values.get("source_mirrored") not in (None, *SOURCE_MIRRORED):
            values.pop("source_mirrored")
        if "threshold" in values:
            values["threshold"] = min(max(values["threshold"], 0.0), 1.0)
        if "smoothing" in values:
            values["smoothing"] = min(max(values["smoothing"], 0.0), 0.99)
        if "window" in values:
            values["window"] = max(values["window"], 0)
        if "persons" in values:
            values["persons"] = min(max(values["persons"], 1), 6)
        if "pose_tiles" in values:
            values["pose_tiles"] = min(max(values["pose_tiles"], 0), 4)
        if "rejection" in values:
            values["rejection"] = min(max(values["rejection"], REJECTION_RANGE[0]), REJECTION_RANGE[1])
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
    """"auto" and "cpu", plus "cuda" where torch sees a GPU."""
    devices = ["auto", "cpu"]
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
        self.window = QSpinBox(minimum=0, maximum=300, singleStep=8, value=settings.window, suffix=" frames")
        self.window.setSpecialValueText("the model's own")  # shown at 0
        self.window.setToolTip("How many frames (at the model's frame rate) each prediction looks at.")
        self.device = QComboBox()
        devs = list(devices or available_devices())
        if settings.device not in devs:
            devs.append(settings.device)
        self.device.addItems(devs)
        self.device.setCurrentText(settings.device)
        self.mirror = QCheckBox("Mirror the video (selfie view)", checked=settings.mirror)
        self.source_mirrored = QComboBox()
        self.source_mirrored.addItem("As the source says", "auto")
        self.source_mirrored.addItem("Yes: swap left and right back", "yes")
        self.source_mirrored.addItem("No", "no")
        self.source_mirrored.setCurrentIndex(max(0, self.source_mirrored.findData(settings.source_mirrored)))
        self.source_mirrored.setToolTip("Some webcam drivers (and NTU's videos) deliver a mirror image; the "
                                        "pose stage must know, or the subject's left and right swap.")
        self.overlay = QCheckBox("Draw the skeleton", checked=settings.overlay)
        self.loop = QCheckBox("Loop video files", checked=settings.loop)

        form.addRow("Confidence threshold", self.threshold)
        self.persons = QSpinBox(minimum=1, maximum=6, value=settings.persons)
        self.persons.setToolTip("How many people to follow, each with their own label. 1 is the fastest.")
        self.pose_tiles = QSpinBox(minimum=0, maximum=4, value=settings.pose_tiles)
        self.pose_tiles.setSpecialValueText("auto")
        self.pose_tiles.setToolTip("Cut the frame into overlapping strips for the pose detector: 2 finds people "
                                   "who are small in a wide frame (a group); 1 for a person close to the camera; "
                                   "auto switches between the two from the people it sees.")
        form.addRow("People to follow", self.persons)
        form.addRow("Pose detector strips", self.pose_tiles)
        form.addRow("Smoothing", self.smoothing)
        form.addRow("Window length", self.window)
        form.addRow("Inference device", self.device)
        form.addRow("Camera image is mirrored", self.source_mirrored)
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
        self.source_mirrored.setCurrentIndex(max(0, self.source_mirrored.findData(s.source_mirrored)))
        self.overlay.setChecked(s.overlay)
        self.loop.setChecked(s.loop)
        self.persons.setValue(s.persons)
        self.pose_tiles.setValue(s.pose_tiles)

    def settings(self) -> UiSettings:
        return self._base.replace(
            threshold=round(self.threshold.value(), 4), smoothing=round(self.smoothing.value(), 4),
            window=self.window.value(), device=self.device.currentText(),
            mirror=self.mirror.isChecked(), source_mirrored=self.source_mirrored.currentData(), overlay=self.overlay.isChecked(), loop=self.loop.isChecked(),
            persons=self.persons.value(), pose_tiles=self.pose_tiles.value(),
        )
