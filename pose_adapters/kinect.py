"""Kinect layouts: v2 / NTU RGB+D (identity) and v1 / NW-UCLA (20 joints).

Both sensors report camera space in metres with the axes of the convention, so
no axis change is needed.
"""
from __future__ import annotations

from .convention import JOINT_NAMES
from .table import LayoutAdapter, identity_recipes

KINECT_V2 = LayoutAdapter(name="kinect_v2", source_joints=JOINT_NAMES, recipes=identity_recipes(JOINT_NAMES))

KINECT_V1_JOINTS: tuple[str, ...] = (
    "hip_centre", "spine", "shoulder_centre", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)

_V1_SAME = [n for n in KINECT_V1_JOINTS if n in JOINT_NAMES]
KINECT_V1 = LayoutAdapter(
    name="kinect_v1",
    source_joints=KINECT_V1_JOINTS,
    recipes={
        **identity_recipes(_V1_SAME),
        "spine_base": (("hip_centre", 1.0),),
        "spine_mid": (("spine", 1.0),),
        # Kinect v1's shoulder centre sits where v2 puts spine_shoulder; v2's neck
        # lies about a third of the way from there to the head.
        "spine_shoulder": (("shoulder_centre", 1.0),),
        "neck": (("shoulder_centre", 0.65), ("head", 0.35)),
        # Hand tips continue the wrist->hand direction by half its length; thumbs
        # are not tracked by v1 and are placed at the hand.
        "left_hand_tip": (("left_hand", 1.5), ("left_wrist", -0.5)),
        "left_thumb": (("left_hand", 1.0),),
        "right_hand_tip": (("right_hand", 1.5), ("right_wrist", -0.5)),
        "right_thumb": (("right_hand", 1.0),),
    },
    approximations=frozenset({"left_thumb", "right_thumb"}),
)
