"""Several people per frame: MediaPipe's ``PoseLandmarker`` (Tasks API) with ``num_poses`` > 1.

The pinned ``mediapipe`` wheel ships no ``.task`` bundle, only the legacy graph's two
models (the BlazePose detector and the full landmark model).  :func:`build_pose_bundle`
assembles a ``pose_landmarker`` bundle from them -- a zip holding
``pose_detector.tflite`` and ``pose_landmarks_detector.tflite`` -- adding the input
normalisation metadata the Tasks graph insists on with MediaPipe's own metadata writer.
Nothing is downloaded; the bundle is built once into the cache folder
(``$MS2L_CACHE/pose``, else ``<user cache>/ms2l-live/pose``) and reused.

:class:`MultiPose` runs it in video mode and returns one :class:`~app.types.PoseResult`
per person, in the ``mediapipe_world`` layout of :class:`app.live.pose.MediaPipePose`,
so :func:`app.live.pose.pose_to_skeleton` turns each into a :class:`~app.types.Skeleton`.
With a low detection threshold (needed to find small people) the detector sometimes
returns one person twice; such duplicates are suppressed here, the more confident kept.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from ..errors import PoseEstimatorError
from ..types import Frame, PoseResult
from .tracker import box_iou

#: Bump when the way the bundle is assembled changes, so old cached bundles are not reused.
BUNDLE_VERSION = 1
DETECTOR_NAME = "pose_detector.tflite"
LANDMARKER_NAME = "pose_landmarks_detector.tflite"
# Where the wheel keeps the legacy graph's models, and the input range each expects
# (from the legacy graphs' ImageToTensorCalculator: detector [-1, 1], landmarks [0, 1]).
_SOURCES = {
    DETECTOR_NAME: ("modules/pose_detection/pose_detection.tflite", 127.5, 127.5),
    LANDMARKER_NAME: ("modules/pose_landmark/pose_landmark_full.tflite", 0.0, 255.0),
}
# The landmark model's five outputs, in tensor order (names are informative only).
_LANDMARK_OUTPUTS = ("landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks")
NUM_LANDMARKS = 33
#: a box within this share of the frame's longer side of a seam between strips counts as cut by it
SEAM_MARGIN = 0.02


def pose_cache_dir() -> Path:
    """``$MS2L_CACHE/pose`` if set, else platformdirs' ``user_cache_dir("ms2l-live")/pose``."""
    env = os.environ.get("MS2L_CACHE")
    if env:
        return Path(env) / "pose"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ms2l-live")) / "pose"


def _mediapipe_dir() -> Path:
    try:
        import mediapipe
    except ImportError as e:
        raise PoseEstimatorError(f"cannot build the multi-person pose model: mediapipe is not installed ({e})") from None
    return Path(mediapipe.__file__).resolve().parent


def _has_normalization(model: bytes) -> bool:
    from mediapipe.tasks.python.metadata import metadata

    try:
        text = metadata.MetadataDisplayer.with_model_buffer(model).get_metadata_json()
    except ValueError:  # "The model does not have metadata."
        return False
    return "NormalizationOptions" in text


def _with_image_metadata(model: bytes, name: str, mean: float, std: float, outputs: int) -> bytes:
    """``model`` with RGB image-input metadata (``(pixel - mean) / std``) that the Tasks graph requires."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, "BlazePose model from the mediapipe wheel, metadata added by ms2l-live")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    out_names = _LANDMARK_OUTPUTS if outputs == len(_LANDMARK_OUTPUTS) else tuple(f"output_{i}" for i in range(outputs))
    for out in out_names:
        writer.add_feature_output(name=out)
    content, _ = writer.populate()
    return bytes(content)


def _bundle_key(sources: dict[str, Path]) -> str:
    h = hashlib.sha256(f"bundle{BUNDLE_VERSION}".encode())
    for name, path in sorted(sources.items()):
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _valid_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return {DETECTOR_NAME, LANDMARKER_NAME} <= set(z.namelist()) and z.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def build_pose_bundle(directory: str | Path | None = None) -> Path:
    """The path of a ``pose_landmarker`` ``.task`` bundle built from the installed mediapipe's models.

    Built once per mediapipe model version into ``directory`` (default :func:`pose_cache_dir`);
    the file name carries a hash of the source models, so an upgraded wheel gets a new bundle.
    Written to a temporary file and renamed, so concurrent processes never read half a zip.
    Raises :class:`~app.errors.PoseEstimatorError` saying why when it cannot be built.
    """
    root = _mediapipe_dir()
    sources = {name: root / rel for name, (rel, _, _) in _SOURCES.items()}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise PoseEstimatorError("cannot build the multi-person pose model: the mediapipe wheel lacks "
                                 + ", ".join(missing))
    folder = Path(directory) if directory is not None else pose_cache_dir()
    path = folder / f"pose_landmarker_full-{_bundle_key(sources)}.task"
    if path.is_file() and _valid_bundle(path):
        return path
    try:
        models: dict[str, bytes] = {}
        for name, (_, mean, std) in _SOURCES.items():
            model = sources[name].read_bytes()
            if not _has_normalization(model):
                from mediapipe.tasks.python.metadata.metadata_writers import writer_utils

                outputs = len(writer_utils.get_output_tensor_types(model))
                model = _with_image_metadata(model, name.removesuffix(".tflite"), mean, std, outputs)
            models[name] = model
    except (ValueError, RuntimeError, ImportError) as e:
        raise PoseEstimatorError(f"cannot build the multi-person pose model: adding metadata failed ({e})") from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pose-", suffix=".task", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
                for name, model in models.items():
                    z.writestr(name, model)
                z.writestr("ms2l-live.json", json.dumps({"bundle_version": BUNDLE_VERSION,
                                                          "sources": {k: str(v) for k, v in sources.items()}}))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as e:
        raise PoseEstimatorError(f"cannot write the multi-person pose model to {folder}: {e}") from None
    return path


# ----------------------------------------------------------------------------------------------
# duplicate suppression


def landmark_box(image_points: np.ndarray, confidence: np.ndarray | None, min_conf: float = 0.5) -> np.ndarray:
    """``[4]`` box ``x0, y0, x1, y1`` around the landmarks seen with ``confidence > min_conf``
    (all finite ones when fewer than 4 are), from ``image_points [S, 2]``; NaN when none is finite."""
    pts = np.asarray(image_points, np.float64)
    finite = np.isfinite(pts).all(-1)
    seen = finite if confidence is None else finite & (np.asarray(confidence) > min_conf)
    use = seen if seen.sum() >= 4 else finite
    if not use.any():
        return np.full(4, np.nan, np.float32)
    p = pts[use]
    return np.array([*p.min(0), *p.max(0)], np.float32)


@dataclass(frozen=True)
class _Candidate:
    """One detected person before suppression: result, box ``[4]`` pixels, score (mean visibility),
    and whether the box touches a seam between strips (so it may be a partial fit)."""

    result: PoseResult
    box: np.ndarray
    score: float
    cut: bool = False


def _keypoint_distance(a: PoseResult, b: PoseResult, min_conf: float = 0.5) -> float:
    """Mean pixel distance between the landmarks both see (all landmarks when they share fewer than 4)."""
    pa, pb = np.asarray(a.image_points), np.asarray(b.image_points)
    both = np.isfinite(pa).all(-1) & np.isfinite(pb).all(-1)
    if a.confidence is not None and b.confidence is not None:
        seen = both & (a.confidence > min_conf) & (b.confidence > min_conf)
        both = seen if seen.sum() >= 4 else both
    if not both.any():
        return float("inf")
    return float(np.linalg.norm(pa[both] - pb[both], axis=-1).mean())


def box_cover(a: np.ndarray, b: np.ndarray) -> float:
    """The share of the smaller of two ``[4]`` boxes that lies inside the other (0 when either is NaN)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / smaller) if iw > 0 and ih > 0 and smaller > 0 else 0.0


def _shared_landmarks(a: PoseResult, b: PoseResult, radius: float) -> float:
    """The share of the landmarks that lie within ``radius`` pixels of the same landmark of the other pose."""
    d = np.linalg.norm(np.asarray(a.image_points) - np.asarray(b.image_points), axis=-1)
    return float((d < radius).mean())


def is_duplicate(a: _Candidate, b: _Candidate, iou: float, distance: float, cover: float = 1.01,
                 shared: float = 1.01) -> bool:
    """Same person twice: boxes overlap by more than ``iou``; or more than ``cover`` of the smaller
    box lies in the other (a partial fit of someone found whole elsewhere); or the landmarks lie
    within ``distance`` x the smaller box's longer side of each other on average; or more than
    ``shared`` of the landmarks lie within a tenth of that side of the other's same landmark (a fit
    straddling two people, e.g. one person's head on a neighbour's legs)."""
    if box_iou(a.box, b.box) > iou or box_cover(a.box, b.box) > cover:
        return True
    sizes = [max(c.box[2] - c.box[0], c.box[3] - c.box[1]) for c in (a, b) if np.isfinite(c.box).all()]
    if not sizes:
        return False
    size = max(min(sizes), 1.0)
    return (_keypoint_distance(a.result, b.result) < distance * size
            or _shared_landmarks(a.result, b.result, 0.1 * size) > shared)


def suppress_duplicates(candidates: list[_Candidate], iou: float = 0.6, distance: float = 0.15,
                        cover: float = 1.01, shared: float = 1.01) -> list[_Candidate]:
    """Greedy non-maximum suppression: whole fits before ones cut by a strip seam, then most
    confident first, dropping any duplicate of one kept."""
    kept: list[_Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.cut, -c.score)):
        if not any(is_duplicate(c, k, iou, distance, cover, shared) for k in kept):
            kept.append(c)
    return kept


# ----------------------------------------------------------------------------------------------
# the estimator


def strip_tiles(width: int, height: int, n: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """``n`` crops ``(x0, y0, x1, y1)`` cutting the frame into strips across its longer side, neighbours
    overlapping by ``overlap`` of that side (so someone on a seam is whole in one strip)."""
    if n <= 1:
        return [(0, 0, width, height)]
    side = max(width, height)
    frac = min(1.0, (1.0 + overlap * (n - 1)) / n)
    span = int(round(frac * side))
    starts = [int(round(k * (side - span) / (n - 1))) for k in range(n)]
    if width >= height:
        return [(s, 0, s + span, height) for s in starts]
    return [(0, s, width, s + span) for s in starts]


class MultiPose:
    """MediaPipe's PoseLandmarker on a stream of frames, up to ``num_poses`` people.

    Args:
        num_poses: most people returned per frame.
        mirrored: the frames show a mirror image of the scene (as in :class:`~app.live.pose.MediaPipePose`).
        min_detection_confidence: detector threshold; 0.3 finds small people that 0.5 misses
            (lower values mostly add duplicates, which are suppressed anyway).
        min_presence_confidence, min_tracking_confidence: the landmarker's other thresholds.
        duplicate_iou, duplicate_distance, duplicate_cover, duplicate_shared: see :func:`is_duplicate`
            (``duplicate_shared`` 0.15 is 5 of 33 landmarks: two hands touching share at most 4).
        tiles: 1 runs one landmarker on the whole frame; n > 1 cuts the frame into n overlapping
            strips (:func:`strip_tiles`), each with its own landmarker, because the detector sees
            a 224x224 image and misses people who are small in a wide frame (calisthenics-3people:
            all three in 99.8 % of frames with 2 strips, 67.9 % whole-frame).  Not for close-ups: a
            person wider than the strips' overlap is cut in every strip, and a partial fit wins
            (the astronaut photo comes out with a wrong pose), hence the default 1.
        poses_per_tile: ``num_poses`` for each strip's landmarker.  By default the share of the
            people a strip of its width would hold if they were spread out, rounded up (3 people,
            2 strips: 2 each): a strip skips its detector once it tracks that many, which on
            calisthenics-3people.avi was both faster and steadier than 3 per strip
            (``benchmarks/results/multiperson.md``), at the risk of missing someone when
            everybody stands in one strip.
        threads: landmarkers run concurrently on up to this many threads (MediaPipe releases the GIL).
        model_path: a ready ``.task`` bundle; by default :func:`build_pose_bundle`'s.

    ``last_detected`` is how many poses the landmarkers returned on the last frame (before
    suppression) and ``suppressed`` the running count of duplicates dropped.
    """

    layout = "mediapipe_world"

    def __init__(
        self,
        num_poses: int = 3,
        mirrored: bool = False,
        min_detection_confidence: float = 0.3,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        duplicate_iou: float = 0.6,
        duplicate_distance: float = 0.15,
        duplicate_cover: float = 0.8,
        duplicate_shared: float = 0.15,
        tiles: int = 1,
        tile_overlap: float = 0.2,
        poses_per_tile: int | None = None,
        threads: int = 1,
        model_path: str | Path | None = None,
    ) -> None:
        if int(num_poses) < 1:
            raise PoseEstimatorError(f"num_poses must be at least 1, got {num_poses}")
        if int(tiles) < 1:
            raise PoseEstimatorError(f"tiles must be at least 1, got {tiles}")
        self.num_poses = int(num_poses)
        self.mirrored = bool(mirrored)
        self.duplicate_iou = float(duplicate_iou)
        self.duplicate_distance = float(duplicate_distance)
        self.duplicate_cover = float(duplicate_cover)
        self.duplicate_shared = float(duplicate_shared)
        self.tiles = int(tiles)
        self.tile_overlap = float(tile_overlap)
        self.model_path = build_pose_bundle() if model_path is None else Path(model_path)
        if not self.model_path.is_file():
            raise PoseEstimatorError(f"pose model {self.model_path} does not exist")
        self.last_detected = 0
        self.suppressed = 0
        self._last_ms = -1
        self._pool = None
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=self._poses_per_tile(poses_per_tile),
            min_pose_detection_confidence=float(min_detection_confidence),
            min_pose_presence_confidence=float(min_presence_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
        )
        self._landmarkers: list = []
        try:
            for _ in range(self.tiles):
                self._landmarkers.append(vision.PoseLandmarker.create_from_options(options))
        except (RuntimeError, ValueError) as e:
            self.close()
            raise PoseEstimatorError(f"cannot load pose model {self.model_path}: {e}") from None
        if int(threads) > 1 and self.tiles > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(min(int(threads), self.tiles), thread_name_prefix="multipose")

    def _poses_per_tile(self, requested: int | None) -> int:
        if self.tiles == 1:
            return self.num_poses
        if requested is not None:
            return max(1, int(requested))
        frac = min(1.0, (1.0 + self.tile_overlap * (self.tiles - 1)) / self.tiles)  # as in strip_tiles
        return max(1, min(self.num_poses, math.ceil(self.num_poses * frac - 1e-9)))

    def process(self, frame: Frame) -> list[PoseResult]:
        """Everyone found in ``frame.image`` (``[H, W, 3]`` uint8 BGR), most confident first.

        Each result has ``points[33, 3]`` world landmarks (metres, MediaPipe axes, origin at
        that person's hips), ``image_points[33, 2]`` pixels of the whole frame and
        ``confidence[33]`` = visibility; an empty list when nobody is found.  Frames must come
        in time order: timestamps are forced to increase by at least 1 ms, as video mode requires.
        """
        import cv2

        if not self._landmarkers:
            raise PoseEstimatorError("MultiPose is closed")
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an [H, W, 3] uint8 BGR image, got {image.dtype} {list(image.shape)}")
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        ms = max(int(round(frame.t * 1000)), self._last_ms + 1)
        self._last_ms = ms
        crops = strip_tiles(w, h, self.tiles, self.tile_overlap)
        jobs = [(lm, rgb, crop, ms, frame) for lm, crop in zip(self._landmarkers, crops)]
        if self._pool is not None:
            per_tile = list(self._pool.map(lambda job: self._detect(*job), jobs))
        else:
            per_tile = [self._detect(*job) for job in jobs]
        candidates = [c for tile in per_tile for c in tile]
        self.last_detected = len(candidates)
        kept = suppress_duplicates(candidates, self.duplicate_iou, self.duplicate_distance, self.duplicate_cover,
                                   self.duplicate_shared)
        self.suppressed += len(candidates) - len(kept)
        return [c.result for c in kept[:self.num_poses]]

    def _detect(self, landmarker, rgb: np.ndarray, crop: tuple[int, int, int, int], ms: int,  # noqa: ANN001
                frame: Frame) -> list[_Candidate]:
        import mediapipe as mp

        x0, y0, x1, y1 = crop
        h, w = rgb.shape[:2]
        margin = SEAM_MARGIN * max(w, h)
        part = rgb if (x1 - x0, y1 - y0) == rgb.shape[1::-1] else np.ascontiguousarray(rgb[y0:y1, x0:x1])
        res = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=part), ms)
        out = []
        for world, normed in zip(res.pose_world_landmarks or [], res.pose_landmarks or []):
            if len(world) != NUM_LANDMARKS or len(normed) != NUM_LANDMARKS:
                continue
            points = np.array([[p.x, p.y, p.z] for p in world], np.float32)
            image_points = np.array([[p.x * (x1 - x0) + x0, p.y * (y1 - y0) + y0] for p in normed], np.float32)
            visibility = np.clip(np.array([getattr(p, "visibility", 1.0) or 0.0 for p in normed], np.float32),
                                 0.0, 1.0)
            if not (np.isfinite(points).all() and np.isfinite(image_points).all()):
                continue
            result = PoseResult(frame.index, frame.t, points, image_points, visibility, self.layout, self.mirrored)
            box = landmark_box(image_points, visibility)
            # Touching an edge of the strip that is not an edge of the frame: maybe a partial fit.
            cut = bool((x0 > 0 and box[0] < x0 + margin) or (x1 < w and box[2] > x1 - margin)
                       or (y0 > 0 and box[1] < y0 + margin) or (y1 < h and box[3] > y1 - margin))
            out.append(_Candidate(result, box, float(visibility.mean()), cut))
        return out

    def close(self) -> None:
        """Release the MediaPipe graphs and threads (idempotent)."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
            self._pool = None
        for landmarker in getattr(self, "_landmarkers", []):
            landmarker.close()
        self._landmarkers = []

    def __enter__(self) -> "MultiPose":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
