"""2D keypoint layouts: COCO-17 and OpenPose BODY_25.

COCO-17 is what MMPose, RTMPose, YOLO-pose and MoveNet output; BODY_25 is
OpenPose's default.  Both give pixel coordinates (``u`` right, ``v`` down) and a
score per keypoint, used as confidence (clipped to ``[0, 1]``; OpenPose marks an
undetected keypoint with score 0).  Inputs are ``keypoints[T, S, 2]`` pixels and
``scores[T, S]``.  The lift to metres and 3D is that of
:mod:`pose_adapters.image`: a flat skeleton, torso ``TORSO_M`` metres, placed
``NOMINAL_DEPTH`` metres from the camera; pass ``image_size=(width, height)`` so
positions are measured from the image centre.

Synthesised joints (confidence capped at ``SYNTHESISED``):

* both: ``spine_mid`` 0.575 of the way from spine base to spine shoulder;
  ``hand`` continues the forearm (elbow -> wrist) by 20 % of its length and
  ``hand_tip`` by 45 %; ``thumb`` is placed at the hand (neither layout has hands);
* COCO-17: ``spine_base`` / ``spine_shoulder`` are the hip / shoulder midpoints,
  ``head`` the ear midpoint, ``neck`` 0.35 of the way from spine shoulder to head,
  ``foot`` is placed at the ankle (COCO has no feet);
* BODY_25: ``spine_base`` is OpenPose's ``mid_hip`` and ``spine_shoulder`` its
  ``neck`` (both between the shoulders / hips, copied directly); ``head`` the ear
  midpoint; ``neck`` as for COCO; ``foot`` the midpoint of the ankle and the big toe.
"""
from __future__ import annotations

from .image import ImageLayoutAdapter
from .mediapipe import _lerp, _mid, _torso
from .table import Recipe

COCO17_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

OPENPOSE_BODY25_KEYPOINTS: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)

HAND_EXTENSION = 0.2
HAND_TIP_EXTENSION = 0.45


def _limbs(r: dict[str, Recipe]) -> None:
    for side in ("left", "right"):
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            r[f"{side}_{joint}"] = ((f"{side}_{joint}", 1.0),)
        elbow, wrist = ((f"{side}_elbow", 1.0),), ((f"{side}_wrist", 1.0),)
        r[f"{side}_hand"] = _lerp(elbow, wrist, 1 + HAND_EXTENSION)
        r[f"{side}_hand_tip"] = _lerp(elbow, wrist, 1 + HAND_TIP_EXTENSION)
        r[f"{side}_thumb"] = r[f"{side}_hand"]


def _coco_recipes() -> dict[str, Recipe]:
    r = _torso(_mid("left_hip", "right_hip"), _mid("left_shoulder", "right_shoulder"), _mid("left_ear", "right_ear"))
    _limbs(r)
    for side in ("left", "right"):
        r[f"{side}_foot"] = ((f"{side}_ankle", 1.0),)
    return r


def _body25_recipes() -> dict[str, Recipe]:
    r = _torso((("mid_hip", 1.0),), (("neck", 1.0),), _mid("left_ear", "right_ear"))
    _limbs(r)
    for side in ("left", "right"):
        r[f"{side}_foot"] = _mid(f"{side}_ankle", f"{side}_big_toe")
    return r


COCO17 = ImageLayoutAdapter(
    name="coco17",
    source_joints=COCO17_KEYPOINTS,
    recipes=_coco_recipes(),
    approximations=frozenset({"left_foot", "right_foot"}),
)

OPENPOSE_BODY25 = ImageLayoutAdapter(
    name="openpose_body25",
    source_joints=OPENPOSE_BODY25_KEYPOINTS,
    recipes=_body25_recipes(),
)
