"""The typed, frozen objects that flow one way through the runtime.

``Source -> Frame -> PoseResult -> Skeleton -> Window -> Prediction -> ActionState -> UI``

Axis vocabulary: M persons, T frames, V joints, C coordinates.  Skeletons are in
the project convention (:mod:`pose_adapters.convention`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured image.

    image: ``[H, W, 3]`` uint8, BGR (OpenCV order).
    t: capture time in seconds (monotonic clock for live sources, media time for files).
    index: frame number within its source, from 0.
    """

    image: np.ndarray
    t: float
    index: int
    source: str = ""


@dataclass(frozen=True)
class PoseResult:
    """A pose estimator's raw output for one frame, in its own layout.

    points: ``[S, 3]`` metric (world) landmarks of the source layout, or None when nobody was found.
    image_points: ``[S, 2]`` pixel coordinates of the same landmarks (for drawing), or None.
    confidence: ``[S]`` per-landmark visibility in [0, 1], or None.
    layout: name of the pose adapter that maps ``points`` to the convention.
    """

    frame_index: int
    t: float
    points: np.ndarray | None
    image_points: np.ndarray | None
    confidence: np.ndarray | None
    layout: str = "mediapipe_world"
    mirrored: bool = False

    @property
    def person(self) -> bool:
        return self.points is not None


@dataclass(frozen=True)
class Skeleton:
    """One person in the convention.

    joints: ``[V=25, C=3]`` float32 metres; confidence: ``[25]`` in [0, 1].
    image_points: ``[25, 2]`` pixel coordinates for the overlay, or None.
    """

    t: float
    frame_index: int
    joints: np.ndarray
    confidence: np.ndarray
    image_points: np.ndarray | None = None


@dataclass(frozen=True)
class Window:
    """The last frames, resampled to the model's frame rate.

    joints: ``[T, 25, 3]``; confidence: ``[T, 25]``; t: ``[T]`` seconds (evenly spaced at ``fps``).
    """

    joints: np.ndarray
    confidence: np.ndarray
    t: np.ndarray
    fps: float


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one window.

    probs: ``[K]`` summing to 1, in the order of ``labels``.
    t: time of the window's last frame; latency_s: capture-to-prediction delay.
    novelty: distance to the nearest known action over the model's calibrated threshold
    (``> 1``: none of these; :mod:`ms2l.openset`), or None for a model without rejection.
    """

    t: float
    probs: np.ndarray
    labels: tuple[str, ...]
    frame_index: int = -1
    latency_s: float = 0.0
    novelty: float | None = None

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(self.labels[i], float(self.probs[i])) for i in order]


#: ``action`` -- one of the model's actions; ``none`` -- none of these (the motion is unlike every
#: action the model knows); ``unknown`` -- a known kind of motion, but no action confident enough;
#: ``still`` -- a person who is not moving; ``background`` -- the user's own "nothing"/"idle" label;
#: ``no_person``; ``warming_up`` -- a person, the window still filling.
State = Literal["action", "none", "unknown", "still", "background", "no_person", "warming_up"]

#: Each state but ``action`` in words, for the window and the annotated videos alike.
STATE_TEXT: dict[str, str] = {
    "warming_up": "Warming up…",
    "no_person": "No one in view",
    "unknown": "Unsure",
    "none": "None of these",
    "still": "Still",
    "background": "No action",
}


@dataclass(frozen=True)
class ActionState:
    """The smoothed, user-facing verdict.

    probs: ``[K]`` smoothed probabilities; action: current label, or None in every state but
    ``action`` (``background`` names the background label).  novelty: smoothed novelty (None
    without rejection).
    """

    t: float
    state: State
    action: str | None
    probs: np.ndarray
    labels: tuple[str, ...]
    novelty: float | None = None


@dataclass(frozen=True)
class ActionEvent:
    """An action started or ended at time ``t``."""

    t: float
    kind: Literal["start", "end"]
    action: str
    extra: dict = field(default_factory=dict)
