"""Drawing the skeleton and the current action onto a frame (OpenCV, for annotated videos)."""
from __future__ import annotations

import cv2
import numpy as np

from pose_adapters import BONES

from ..types import STATE_TEXT, ActionState, Prediction, Skeleton

_LEFT = (255, 160, 40)  # BGR: subject's left in blue, right in orange, centre in green
_RIGHT = (40, 140, 255)
_CENTRE = (80, 220, 80)
_LEFT_JOINTS = {4, 5, 6, 7, 12, 13, 14, 15, 21, 22}
_RIGHT_JOINTS = {8, 9, 10, 11, 16, 17, 18, 19, 23, 24}


def _colour(j: int) -> tuple[int, int, int]:
    return _LEFT if j in _LEFT_JOINTS else _RIGHT if j in _RIGHT_JOINTS else _CENTRE


def draw_skeleton(image: np.ndarray, skeleton: Skeleton, min_confidence: float = 0.05) -> np.ndarray:
    """Draw ``skeleton.image_points[25, 2]`` with :data:`pose_adapters.BONES` onto ``image[H, W, 3]`` (in place)."""
    pts = skeleton.image_points
    if pts is None:
        return image
    conf = skeleton.confidence
    ok = (conf > min_confidence) & np.isfinite(pts).all(1)
    scale = max(1, round(max(image.shape[:2]) / 480))
    p = np.round(np.nan_to_num(pts)).astype(int)
    for child, parent in BONES:
        if ok[child] and ok[parent]:
            cv2.line(image, tuple(p[child]), tuple(p[parent]), _colour(child), 2 * scale, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(image, tuple(p[j]), 2 * scale + 1, _colour(int(j)), -1, cv2.LINE_AA)
    return image


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, colour=(255, 255, 255)) -> None:
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(2, int(4 * scale)), cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, max(1, int(1.6 * scale)), cv2.LINE_AA)


def draw_overlay(image: np.ndarray, skeleton: Skeleton | None, state: ActionState | None,
                 prediction: Prediction | None = None, top: int = 3) -> np.ndarray:
    """A copy of ``image`` with the skeleton, the current action (or state) and the top probabilities."""
    out = image.copy()
    if skeleton is not None:
        draw_skeleton(out, skeleton)
    s = max(0.4, out.shape[0] / 720)
    line = int(32 * s)
    if state is not None:
        if state.state == "action":
            label, colour = state.action or "", (80, 255, 80)
        else:
            words = STATE_TEXT.get(state.state, state.state)
            if state.state == "background" and state.action:
                words = f"{words} ({state.action})"
            label, colour = words.replace("…", "..."), (200, 200, 200)  # cv2's font has no ellipsis
        _text(out, label, (int(10 * s), line), 1.0 * s, colour)
    if prediction is not None:
        for i, (name, p) in enumerate(prediction.top(top)):
            y = line * (i + 2)
            w = int(120 * s * p)
            cv2.rectangle(out, (int(10 * s), y - int(14 * s)), (int(10 * s) + w, y + int(2 * s)), (60, 160, 60), -1)
            _text(out, f"{p:4.2f} {name}", (int(12 * s), y), 0.55 * s)
    return out


def video_writer(path: str, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An OpenCV writer for ``path``: MJPG for ``.avi``, mp4v otherwise (H.264 cannot be encoded here)."""
    fourcc = "MJPG" if str(path).lower().endswith(".avi") else "mp4v"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), size)
    if not w.isOpened():
        raise OSError(f"cannot write video {path} with codec {fourcc} (use .avi or .mp4)")
    return w
