"""Frame sources behind one interface: camera, video file, image folder, stream URL, skeleton clip.

Every source yields :class:`~app.types.Frame` objects with a capture time and an
index, and returns ``None`` at the end of the stream.  Failures raise
:class:`SourceError` with a message a user can act on.

``open_source(spec)`` picks the kind from the spec:

* ``camera:N`` (or a bare integer): webcam ``N``; ``t`` is the monotonic clock.
* a folder: its images in name order, at ``fps`` (default 30); ``t = index / fps``.
* ``*.npz``: a recorded skeleton clip (``joints[T,25,3]``, ``confidence[T,25]``,
  ``timestamps[T]``), replayed as :class:`SkeletonFrame` objects that carry their
  :class:`~app.types.Skeleton`, so the runtime skips the pose stage for them.
* anything with ``://``: a network stream (live: read failures are errors).
* any other path: a video file; ``t`` is media time (``index / fps``).

Mirroring (``mirrored``) is a property of the source, not a display detail: it
tells the pose stage that the image shows the subject mirrored (a selfie camera,
NTU's RGB videos), so left and right must be swapped back.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable

import numpy as np

from pose_adapters.clipfile import SkeletonClip, read_clip, write_clip
from pose_adapters.readers import SkeletonFileError

from ..errors import SourceError
from ..types import Frame, Skeleton

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: A live source that fails this many reads in a row (or for this long) has stopped.
MAX_FAILED_READS = 5
STALL_TIMEOUT_S = 3.0
#: A file that ends more than this share of frames (and more than 2) short of the count its
#: container declares is truncated (counts from containers can be off by a frame or two).
TRUNCATED_FRACTION = 0.05


@runtime_checkable
class Source(Protocol):
    """What the runtime reads from.  ``read()`` returns ``None`` at the end of the stream."""

    name: str
    mirrored: bool
    fps: float | None

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SkeletonFrame(Frame):
    """A frame that already carries its skeleton (replay): the pose stage is skipped.

    ``image`` is a blank ``[H, W, 3]`` canvas; ``skeleton`` is None for frames without a person;
    ``others``: the clip's further persons seen in this frame (a two-person clip's partner).
    """

    skeleton: Skeleton | None = None
    others: tuple[Skeleton, ...] = ()


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (probing a missing camera prints several)."""
    import cv2

    if not hasattr(cv2, "setLogLevel"):  # pragma: no cover - very old OpenCV
        yield
        return
    old = cv2.getLogLevel() if hasattr(cv2, "getLogLevel") else 3
    cv2.setLogLevel(0)  # 0 = silent
    try:
        yield
    finally:
        cv2.setLogLevel(old)


def parse_camera(spec: str) -> int | None:
    """``"camera:2"`` or ``"2"`` -> 2; anything else -> None."""
    s = spec.strip()
    if s.lower().startswith("camera:"):
        s = s.split(":", 1)[1]
    elif not s.isdigit():
        return None
    try:
        return int(s)
    except ValueError:
        raise SourceError(f"bad camera spec {spec!r}: use camera:N with N a number, e.g. camera:0") from None


class VideoSource:
    """A camera, video file or stream read through ``cv2.VideoCapture``.

    Files are read as fast as asked (pacing to real time is the runtime's job)
    and stamped with media time; live sources are stamped with the monotonic
    clock.  The first frame is read at open time so a file OpenCV cannot decode
    fails here, not later.
    """

    def __init__(self, target: int | str, *, kind: str, mirrored: bool = False, loop: bool = False,
                 width: int | None = None, height: int | None = None):
        self.kind = kind  # "camera" | "file" | "stream"
        self.target = target
        self.name = f"camera:{target}" if kind == "camera" else str(target)
        self.mirrored = bool(mirrored)
        self.loop = bool(loop) and kind == "file"
        self.width, self.height = width, height
        self.fps: float | None = None
        self.frame_count: int | None = None
        self._cap = None
        self._pending: np.ndarray | None = None
        self._index = 0
        self._t_offset = 0.0  # media time added per loop
        self._loop_start = 0  # index of the first frame of the current loop
        self._failures = 0
        self._last_ok = 0.0
        self._last_t = -np.inf
        self.reopen()

    @property
    def live(self) -> bool:
        return self.kind != "file"

    def reopen(self) -> None:
        """(Re)open the device or file; a camera that came back can be used again."""
        import cv2

        self.close()
        with _quiet_opencv():
            cap = cv2.VideoCapture(self.target)
            if self.kind == "camera":
                if self.width:
                    cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                if self.height:
                    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if not cap.isOpened():
            cap.release()
            if self.kind == "camera":
                found = list_cameras()
                hint = f"cameras found: {', '.join(f'camera:{i}' for i in found)}" if found else "no camera found"
                raise SourceError(f"cannot open camera {self.target} ({hint})")
            if self.kind == "file":
                why = "not a video OpenCV can decode (corrupt or unsupported)"
                raise SourceError(f"cannot read {self.target}: {why}", reason=why)
            raise SourceError(f"cannot open stream {self.target}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else None
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(n) if self.kind == "file" and n and n > 0 else None
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            what = {"camera": f"camera {self.target}", "file": str(self.target), "stream": f"stream {self.target}"}[self.kind]
            why = "opened but delivered no frame" + (" (corrupt or empty file)" if self.kind == "file"
                                                     else " (busy or disconnected?)")
            raise SourceError(f"{what} {why}", reason=why)
        self._cap, self._pending = cap, image
        self._index, self._t_offset, self._failures, self._loop_start = 0, 0.0, 0, 0
        self._last_ok = time.monotonic()

    def _time(self, index: int) -> float:
        if self.live:
            return time.monotonic()
        if self.fps:
            return self._t_offset + (index - self._loop_start) / self.fps
        import cv2
        t = self._t_offset + self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        # A container that declares no rate may also report no (or a stale) position: keep time moving forward.
        if index > 0 and not (np.isfinite(t) and t > self._last_t):
            t = self._last_t + 1.0 / 30.0
        self._last_t = t
        return t

    def read(self) -> Frame | None:
        """The next frame; None at the end of a file; SourceError when a live source stops."""
        if self._cap is None:
            raise SourceError(f"{self.name} is closed")
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            image = self._read_image()
            if image is None:
                return None
        frame = Frame(image=image, t=self._time(self._index), index=self._index, source=self.name)
        self._index += 1
        return frame

    def _read_image(self) -> np.ndarray | None:
        while True:
            ok, image = self._cap.read()
            if ok and image is not None:
                self._failures = 0
                self._last_ok = time.monotonic()
                return image
            if not self.live:
                got, declared = self._index - self._loop_start, self.frame_count
                if declared and got + max(2, TRUNCATED_FRACTION * declared) < declared:
                    # The container promised more: a cut-off download or copy, not the end of the video.
                    raise SourceError(f"{self.name} ends after {got} of its {declared} frames: "
                                      "the file is truncated or corrupt")
                if self.loop and self._index > self._loop_start:
                    import cv2
                    # Media time keeps growing across loops so timestamps stay monotonic.
                    self._t_offset += (self._index - self._loop_start) / (self.fps or 30.0)
                    self._loop_start = self._index
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                return None
            self._failures += 1
            stalled = time.monotonic() - self._last_ok
            if self._failures >= MAX_FAILED_READS or stalled > STALL_TIMEOUT_S:
                raise SourceError(f"{self.name} stopped delivering frames ({self._failures} failed reads, "
                                  f"{stalled:.1f} s since the last frame): unplugged or in use by another program?")
            time.sleep(0.01)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap = None

    def __repr__(self) -> str:
        return f"VideoSource({self.name!r}, fps={self.fps}, mirrored={self.mirrored})"


class ImageFolderSource:
    """The images of a folder in name order, stamped ``t = index / fps``."""

    def __init__(self, folder: str | Path, *, fps: float = 30.0, mirrored: bool = False, loop: bool = False):
        self.folder = Path(folder)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {self.folder}")
        self.name = str(self.folder)
        self.fps: float | None = float(fps)
        self.mirrored = bool(mirrored)
        self.loop = bool(loop)
        self.frame_count: int | None = len(self.files)
        self._index = 0
        self._closed = False

    def read(self) -> Frame | None:
        import cv2

        if self._closed:
            raise SourceError(f"{self.name} is closed")
        i = self._index
        if i >= len(self.files) and not self.loop:
            return None
        path = self.files[i % len(self.files)]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot read image {path} (corrupt or unsupported format)")
        self._index += 1
        return Frame(image=image, t=i / self.fps, index=i, source=self.name)

    def close(self) -> None:
        self._closed = True


class SkeletonClipSource:
    """Replays a recorded skeleton clip (``.npz``) as :class:`SkeletonFrame` objects.

    The file holds ``joints[T, 25, 3]`` float (convention, metres),
    ``confidence[T, 25]`` and ``timestamps[T]`` seconds; optionally
    ``image_points[T, 25, 2]``.  A frame whose confidences are all 0 has no
    person.  A clip of ``M`` persons (``joints[M, T, 25, 3]``, e.g. a pair from the
    library) gives each frame's first person as ``skeleton`` and the rest as ``others``;
    with several people followed the runtime tracks them as it would from a camera.
    Each frame's image is a blank canvas of ``size`` (W, H); when the clip has no image
    points the skeleton is projected onto it (front view) so overlays still show it.
    Skeletons are already in the convention, so ``mirrored`` is False.
    """

    def __init__(self, path: str | Path, *, loop: bool = False, size: tuple[int, int] = (640, 480)):
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"no such skeleton clip: {self.path}")
        try:
            clip = read_clip(self.path, multi=True)
        except SkeletonFileError as e:
            raise SourceError(f"cannot read skeleton clip {self.path}: {e.problem}") from None
        T, t = clip.frames, clip.timestamps
        multi = clip.persons > 1  # read_clip gives one person as [T, 25, 3]
        # Persons first: [M, T, 25, 3] (one person: M = 1).
        self.joints = clip.joints if multi else clip.joints[None]
        self.confidence = clip.confidence if multi else clip.confidence[None]
        self.timestamps = clip.timestamps
        ip = clip.image_points
        self.image_points = None if ip is None else (ip if multi else ip[None])
        self.persons = int(self.joints.shape[0])
        self.name = str(self.path)
        self.mirrored = False
        self.loop = bool(loop)
        self.frame_count: int | None = T
        self.fps: float | None = float((T - 1) / (t[-1] - t[0])) if T > 1 else None
        self.size = size
        self._canvas = np.zeros((size[1], size[0], 3), np.uint8)
        self._index = 0
        self._closed = False

    def _project(self, joints: np.ndarray) -> np.ndarray:
        """Front-view pixels ``[25, 2]``: convention x grows to the camera's left, y up."""
        W, H = self.size
        s = 0.35 * H  # about 2.5 m of height fills the canvas
        return np.stack([W / 2 - joints[:, 0] * s, H * 0.55 - joints[:, 1] * s], axis=1).astype(np.float32)

    def read(self) -> Frame | None:
        if self._closed:
            raise SourceError(f"{self.name} is closed")
        T = self.joints.shape[1]
        i = self._index
        if T == 0 or (i >= T and not self.loop):
            return None
        k, lap = i % T, i // T
        period = (self.timestamps[-1] - self.timestamps[0]) + (1.0 / self.fps if self.fps else 0.0)
        t = float(self.timestamps[k] + lap * period)
        self._index += 1
        people: list[Skeleton | None] = []
        for m in range(self.persons):
            j, c = self.joints[m, k], self.confidence[m, k]
            if not (c > 0).any():
                people.append(None)
                continue
            ip = self.image_points[m, k] if self.image_points is not None else self._project(j)
            people.append(Skeleton(t=t, frame_index=i, joints=j, confidence=c, image_points=ip))
        others = tuple(p for p in people[1:] if p is not None)
        return SkeletonFrame(image=self._canvas, t=t, index=i, source=self.name, skeleton=people[0], others=others)

    def close(self) -> None:
        self._closed = True


def save_skeleton_clip(path: str | Path, skeletons: list[Skeleton | None], timestamps: list[float] | None = None,
                       **extra: Any) -> Path:
    """Write skeletons (None = nobody) as a clip (:mod:`pose_adapters.clipfile`) that :class:`SkeletonClipSource`
    replays; ``image_points[T, 25, 2]`` are kept when every skeleton has them.  ``extra``: the other
    :class:`~pose_adapters.clipfile.SkeletonClip` fields (``fps``, ``label``, ``mirrored``, ``adapter``).
    """
    T = len(skeletons)
    joints = np.zeros((T, 25, 3), np.float32)
    conf = np.zeros((T, 25), np.float32)
    ip = np.zeros((T, 25, 2), np.float32)
    have_ip = T > 0
    t = np.zeros(T, np.float64)
    for i, s in enumerate(skeletons):
        if s is not None:
            joints[i], conf[i], t[i] = s.joints, s.confidence, s.t
            if s.image_points is None:
                have_ip = False
            else:
                ip[i] = s.image_points
        else:
            have_ip = False
    if timestamps is not None:
        t = np.asarray(timestamps, np.float64)
    return write_clip(path, SkeletonClip(joints, conf, t, image_points=ip if have_ip else None, **extra))


def list_cameras(max_index: int = 5) -> list[int]:
    """Indices of the cameras in ``0..max_index-1`` that open and deliver a frame."""
    import cv2

    found = []
    with _quiet_opencv():
        for i in range(max_index):
            cap = cv2.VideoCapture(i)
            try:
                if cap.isOpened() and cap.read()[0]:
                    found.append(i)
            finally:
                cap.release()
    return found


def open_source(spec: str | Path, *, mirrored: bool | None = None, loop: bool = False, fps: float | None = None) -> Source:
    """Open a source from a spec (see the module docstring).

    ``mirrored=None`` takes the default: False for every kind (most webcams do
    not mirror; say ``mirrored=True`` for one that does, or for NTU's videos).
    ``fps`` sets an image folder's frame rate (default 30).
    """
    spec_s = str(spec).strip()
    if not spec_s:
        raise SourceError("empty source: give camera:N, a video file, an image folder, a URL or a .npz clip")
    mir = bool(mirrored) if mirrored is not None else False
    cam = parse_camera(spec_s)
    if cam is not None:
        return VideoSource(cam, kind="camera", mirrored=mir)
    if "://" in spec_s:
        return VideoSource(spec_s, kind="stream", mirrored=mir)
    path = Path(spec_s).expanduser()
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    if path.is_dir():
        return ImageFolderSource(path, fps=fps or 30.0, mirrored=mir, loop=loop)
    if path.suffix.lower() == ".npz":
        return SkeletonClipSource(path, loop=loop)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise SourceError(f"{path} is a single image: put it in a folder and open the folder")
    return VideoSource(str(path), kind="file", mirrored=mir, loop=loop)


def frame_count(source: Source) -> int | None:
    """Frames in a finite source (for progress bars), or None."""
    return getattr(source, "frame_count", None)
