"""The pose estimator: MediaPipe Pose on frames, and its result in the convention.

Qt-free.  :class:`MediaPipePose` wraps the legacy ``mediapipe.solutions.pose``
graph (bundled model, ``model_complexity=1``: the only one that works without
a network) in tracking mode, or -- when given a ``.task`` bundle -- the Tasks
API's ``PoseLandmarker`` in video mode.  Either way a frame becomes a
:class:`~app.types.PoseResult` in the ``mediapipe_world`` layout, and
:func:`pose_to_skeleton` turns that into a :class:`~app.types.Skeleton`.

Mirroring is a property of the source (a selfie camera, NTU's RGB videos): pass
``mirrored=True`` and the skeleton comes out as the subject really is, with
the left/right labels swapped back and x flipped (see ``LayoutAdapter.to_ntu``).
"""
from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

from pose_adapters import MIRROR_PERMUTATION, get_adapter

from ..errors import PoseEstimatorError
from ..types import Frame, PoseResult, Skeleton


class MediaPipePose:
    """MediaPipe Pose on a stream of frames (one person).

    Args:
        mirrored: the frames show a mirror image of the scene.
        model_path: optional ``.task`` bundle for the Tasks API; by default the
            legacy solution's bundled model is used.
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
    """

    layout = "mediapipe_world"

    def __init__(
        self,
        mirrored: bool = False,
        model_path: str | Path | None = None,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self.mirrored = bool(mirrored)
        self.model_path = None if model_path is None else Path(model_path)
        self._last_ms = -1
        if self.model_path is None:
            import mediapipe as mp

            self._pose = mp.solutions.pose.Pose(
                static_image_mode=False,
                model_complexity=1,
                smooth_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            self._tasks = None
        else:
            self._pose = None
            self._tasks = self._open_task(self.model_path, min_detection_confidence, min_tracking_confidence)

    @staticmethod
    def _open_task(path: Path, det: float, track: float):  # noqa: ANN205 - mediapipe type
        if not path.is_file():
            raise PoseEstimatorError(f"pose model {path} does not exist")
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
            min_pose_detection_confidence=det,
            min_tracking_confidence=track,
        )
        try:
            return vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as e:
            raise PoseEstimatorError(f"cannot load pose model {path}: {e}") from None

    def process(self, frame: Frame) -> PoseResult:
        """Find one person in ``frame.image`` (``[H, W, 3]`` uint8 BGR).

        Returns ``points[33, 3]`` world landmarks (metres, MediaPipe axes),
        ``image_points[33, 2]`` pixels and ``confidence[33]`` = visibility, or a
        result with ``points=None`` when nobody is found.
        """
        import cv2

        if self._pose is None and self._tasks is None:
            raise PoseEstimatorError("MediaPipePose is closed")
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an [H, W, 3] uint8 BGR image, got {image.dtype} {list(image.shape)}")
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        world, normed = self._run(rgb, frame.t)
        if world is None or normed is None:
            return PoseResult(frame.index, frame.t, None, None, None, self.layout, self.mirrored)
        points = np.array([[p.x, p.y, p.z] for p in world], np.float32)
        image_points = np.array([[p.x * w, p.y * h] for p in normed], np.float32)
        visibility = np.array([getattr(p, "visibility", 1.0) or 0.0 for p in normed], np.float32)
        return PoseResult(frame.index, frame.t, points, image_points, np.clip(visibility, 0.0, 1.0),
                          self.layout, self.mirrored)

    def _run(self, rgb: np.ndarray, t: float) -> tuple[list | None, list | None]:
        if self._pose is not None:
            res = self._pose.process(rgb)
            if res.pose_world_landmarks is None or res.pose_landmarks is None:
                return None, None
            return list(res.pose_world_landmarks.landmark), list(res.pose_landmarks.landmark)
        import mediapipe as mp

        ms = max(int(round(t * 1000)), self._last_ms + 1)  # the Tasks API needs increasing timestamps
        self._last_ms = ms
        res = self._tasks.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ms)
        if not res.pose_world_landmarks or not res.pose_landmarks:
            return None, None
        return list(res.pose_world_landmarks[0]), list(res.pose_landmarks[0])

    def close(self) -> None:
        """Release the MediaPipe graph (idempotent)."""
        for attr in ("_pose", "_tasks"):
            graph = getattr(self, attr, None)
            if graph is not None:
                graph.close()
                setattr(self, attr, None)

    def __enter__(self) -> "MediaPipePose":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def pose_to_skeleton(result: PoseResult) -> Skeleton | None:
    """The person of ``result`` in the convention, or None when there is none.

    ``joints[25, 3]`` and ``confidence[25]`` come from the result's layout adapter
    (mirroring applied when ``result.mirrored``); ``image_points[25, 2]`` are the
    same table's weighted sums of the landmarks' pixels -- in the frame as given,
    so an overlay lands on the picture that was analysed -- with left and right
    swapped back for a mirrored source, and NaN where a joint is missing.
    """
    if result.points is None:
        return None
    adapter = get_adapter(result.layout)
    points = np.asarray(result.points, np.float32)
    conf_in = None if result.confidence is None else np.asarray(result.confidence, np.float32)[None]
    joints, conf = adapter.to_ntu(points[None], conf_in, mirrored=result.mirrored)
    image_points = None
    if result.image_points is not None:
        pix = np.asarray(result.image_points, np.float32)
        finite = np.isfinite(pix).all(-1)
        image_points = (adapter.weights @ np.where(finite[:, None], pix, 0.0)).astype(np.float32)
        if result.mirrored:
            image_points = image_points[MIRROR_PERMUTATION]
        image_points[conf[0] <= 0] = np.nan
    return Skeleton(result.t, result.frame_index, joints[0], conf[0], image_points)
