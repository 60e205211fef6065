"""Choosing what to watch: a camera, a video file, an image folder or a stream."""
from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QPushButton, QWidget

VIDEO_FILTER = ("Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg *.wmv);;"
                "Skeleton clips (*.npz);;All files (*)")
NO_CAMERA = "No camera found"


def camera_spec(index: int) -> str:
    return f"camera:{index}"


class SourcePicker(QWidget):
    """Camera list plus "Open video…", "Open folder…", "Open stream URL…".

    ``cameras`` is what ``app.sources.list_cameras()`` found; with none the list says
    so and is disabled, and the other ways in stay available.  Every choice is emitted
    as a source spec through :attr:`sourceRequested`; opening it is the window's job.
    """

    sourceRequested = pyqtSignal(str)  # noqa: N815

    def __init__(self, cameras: list[int] | tuple[int, ...] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cameras = QComboBox()
        self.cameras.setMinimumContentsLength(14)
        self.cameras.activated.connect(self._on_camera)
        self.video_button = QPushButton("Open video…")
        self.folder_button = QPushButton("Open folder…")
        self.url_button = QPushButton("Open stream URL…")
        self.video_button.clicked.connect(self.open_video)
        self.folder_button.clicked.connect(self.open_folder)
        self.url_button.clicked.connect(self.open_url)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.cameras, self.video_button, self.folder_button, self.url_button):
            lay.addWidget(w)
        self.last_dir = ""
        self.set_cameras(cameras)

    def set_cameras(self, cameras: list[int] | tuple[int, ...]) -> None:
        self.cameras.clear()
        if cameras:
            self.cameras.addItem("Choose a camera…", None)
            for i in cameras:
                self.cameras.addItem(f"Camera {i}", camera_spec(i))
        else:
            self.cameras.addItem(NO_CAMERA, None)
        self.cameras.setEnabled(bool(cameras))
        self.cameras.setToolTip("" if cameras else "No camera was found on this computer; open a video, "
                                "an image folder or a stream instead.")

    def camera_specs(self) -> list[str]:
        return [self.cameras.itemData(i) for i in range(self.cameras.count()) if self.cameras.itemData(i)]

    def request(self, spec: str) -> None:
        """Ask for ``spec`` to be opened (what every button ends in)."""
        if spec:
            self.sourceRequested.emit(spec)

    def open_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", self.last_dir, VIDEO_FILTER)
        if path:
            self._remember(path)
            self.request(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images", self.last_dir)
        if path:
            self._remember(path)
            self.request(path)

    def open_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Open stream URL",
                                       "Stream URL (rtsp://, http://, …):", text="rtsp://")
        url = url.strip()
        if ok and url and url != "rtsp://":
            self.request(url)

    def _remember(self, path: str) -> None:
        from pathlib import Path

        p = Path(path)
        self.last_dir = str(p if p.is_dir() else p.parent)

    def _on_camera(self, index: int) -> None:
        spec = self.cameras.itemData(index)
        if spec:
            self.request(spec)
