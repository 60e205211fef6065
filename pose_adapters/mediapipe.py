"""MediaPipe Pose (BlazePose, 33 landmarks) onto the convention.

Two adapters share one joint table:

``mediapipe_world``
    ``pose_world_landmarks``: metres, origin between the hips.  MediaPipe's world
    axes are its camera's: ``x`` towards the image right, ``y`` down, ``z`` away from
    the camera (smaller ``z`` is nearer).  That frame is right-handed, as is the
    convention's (``x`` to the camera's left = image left, ``y`` up, ``z`` away),
    so the change of axes is the rotation by 180 degrees about the optical axis,
    ``(x, y, z) -> (-x, -y, z)``, determinant +1.  (Negating ``y`` alone would be a
    mirror: it would turn a left hand into a right one.)  The origin stays at the
    hips; MediaPipe gives no camera distance.

``mediapipe_image``
    ``pose_landmarks``: ``x, y`` normalised to the image width and height, ``z`` a
    relative depth on the scale of ``x`` with the hips at 0.  Lifted as described
    in :mod:`pose_adapters.image` (same rotation; torso = ``TORSO_M`` metres; the
    body placed ``NOMINAL_DEPTH`` metres away, MediaPipe's ``z`` kept as relative
    depth).  Pass ``image_size=(width, height)`` for the true aspect ratio.

MediaPipe labels sides from the subject's point of view, as the convention does.
Confidence is the landmark's ``visibility``.  Joints MediaPipe lacks are built
from neighbours (confidence capped at ``SYNTHESISED``), with fractions measured
on the NTU RGB+D sample skeletons (Kinect v2) where a choice was needed:

* ``spine_base``: midpoint of the hips; ``spine_shoulder``: midpoint of the shoulders;
* ``spine_mid``: 0.575 of the way from spine base to spine shoulder (NTU: 0.573-0.575);
* ``head``: midpoint of the ears (the centre of the head, as Kinect's head joint);
* ``neck``: 0.35 of the way from spine shoulder to head (NTU: 0.30-0.38);
* ``hand``: 0.8 of the way from the wrist to the midpoint of the index and pinky
  knuckles (about 6 cm; Kinect: 5-7 cm); ``hand_tip``: 1.5 of that way (about 11 cm);
* ``thumb``: MediaPipe's thumb landmark, which is nearer the wrist than Kinect's
  thumb tip (an approximation, so marked synthesised);
* ``foot``: midpoint of the ankle and the foot index (toe) landmark (about 8 cm
  from the ankle; Kinect: 8-13 cm).
"""
from __future__ import annotations

import numpy as np

from .image import IMAGE_AXES, ImageLayoutAdapter
from .table import LayoutAdapter, Recipe

MEDIAPIPE_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

#: MediaPipe camera axes (x right, y down, z away) -> convention axes; det +1.
MEDIAPIPE_AXES = IMAGE_AXES

SPINE_MID_FRACTION = 0.575
NECK_FRACTION = 0.35
HAND_FRACTION = 0.8
HAND_TIP_FRACTION = 1.5


def _lerp(a: Recipe, b: Recipe, f: float) -> Recipe:
    """The recipe for ``a + f (b - a)``, where ``a`` and ``b`` are recipes themselves."""
    out: dict[str, float] = {}
    for name, w in a:
        out[name] = out.get(name, 0.0) + (1 - f) * w
    for name, w in b:
        out[name] = out.get(name, 0.0) + f * w
    return tuple((n, w) for n, w in out.items() if w != 0)


def _mid(*names: str) -> Recipe:
    return tuple((n, 1.0 / len(names)) for n in names)


def _torso(hips: Recipe, shoulders: Recipe, ears: Recipe) -> dict[str, Recipe]:
    """Spine, neck and head joints from hip, shoulder and ear centres (shared by the 2D layouts too)."""
    return {
        "spine_base": hips,
        "spine_shoulder": shoulders,
        "spine_mid": _lerp(hips, shoulders, SPINE_MID_FRACTION),
        "head": ears,
        "neck": _lerp(shoulders, ears, NECK_FRACTION),
    }


def _mediapipe_recipes() -> dict[str, Recipe]:
    r = _torso(_mid("left_hip", "right_hip"), _mid("left_shoulder", "right_shoulder"), _mid("left_ear", "right_ear"))
    for side in ("left", "right"):
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            r[f"{side}_{joint}"] = ((f"{side}_{joint}", 1.0),)
        wrist = ((f"{side}_wrist", 1.0),)
        knuckles = _mid(f"{side}_index", f"{side}_pinky")
        r[f"{side}_hand"] = _lerp(wrist, knuckles, HAND_FRACTION)
        r[f"{side}_hand_tip"] = _lerp(wrist, knuckles, HAND_TIP_FRACTION)
        r[f"{side}_thumb"] = ((f"{side}_thumb", 1.0),)
        r[f"{side}_foot"] = _mid(f"{side}_ankle", f"{side}_foot_index")
    return r


MEDIAPIPE_RECIPES = _mediapipe_recipes()
_APPROX = frozenset({"left_thumb", "right_thumb"})

MEDIAPIPE_WORLD = LayoutAdapter(
    name="mediapipe_world",
    source_joints=MEDIAPIPE_LANDMARKS,
    recipes=MEDIAPIPE_RECIPES,
    axes=MEDIAPIPE_AXES.copy(),
    approximations=_APPROX,
)

MEDIAPIPE_IMAGE = ImageLayoutAdapter(
    name="mediapipe_image",
    source_joints=MEDIAPIPE_LANDMARKS,
    recipes=MEDIAPIPE_RECIPES,
    approximations=_APPROX,
    normalised=True,
    has_depth=True,
)

#: ``landmarks[..., MEDIAPIPE_MIRROR, :]`` swaps MediaPipe's left and right landmarks.
MEDIAPIPE_MIRROR: np.ndarray = np.array(
    [MEDIAPIPE_LANDMARKS.index(
        n.replace("left", "@").replace("right", "left").replace("@", "right")
    ) for n in MEDIAPIPE_LANDMARKS]
)
