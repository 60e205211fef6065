"""Kinect layouts: v2 / NTU RGB+D (identity) and v1 / NW-UCLA (20 joints).

Both sensors report camera space in metres with the axes of the convention, so
no axis change is needed.  Two more Kinect-era layouts: UTD-MHAD (Kinect v1 joints
in another order) and SBU Kinect Interaction (OpenNI's 15 joints, in millimetres
once the reader has undone the dataset's normalisation).
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

#: UTD-MHAD (Kinect v1, 20 joints) stores the same joints as NW-UCLA in another order
#: (``Skeleton_joint_order.txt``): head first, hip centre fourth.
UTD_MHAD_JOINTS: tuple[str, ...] = (
    "head", "shoulder_centre", "spine", "hip_centre",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
# Same sensor, same joints: reuse the v1 recipes so UTD-MHAD and NW-UCLA skeletons agree.
# Axes need no change: in all 861 clips the right shoulder sits at +x (the camera's left;
# median 0.31 m right of the left one) and right-hand gestures move the right wrist,
# exactly as in NTU's Kinect v2 data (docs/datasets.md).
UTD_MHAD = LayoutAdapter(
    name="utd_mhad",
    source_joints=UTD_MHAD_JOINTS,
    recipes=KINECT_V1.recipes,
    approximations=KINECT_V1.approximations,
)

#: SBU Kinect Interaction (OpenNI/NiTE, 15 joints), in file order.
SBU15_JOINTS: tuple[str, ...] = (
    "head", "neck", "torso",
    "left_shoulder", "left_elbow", "left_hand",
    "right_shoulder", "right_elbow", "right_hand",
    "left_hip", "left_knee", "left_foot",
    "right_hip", "right_knee", "right_foot",
)
# Fits measured on all 282 SBU takes against NTU and UTD-MHAD (docs/datasets.md):
# SBU's neck is exactly the shoulder midpoint (Kinect v2's spine_shoulder); its torso lies
# midway between neck and hip midpoint (spine_mid); elbow -> hand is 0.28 m like Kinect's
# elbow -> hand (0.27-0.29), so SBU's hand is Kinect's hand and the wrist lies 0.2 of the way
# back to the elbow (Kinect: 0.056 of 0.274 m); knee -> foot is 0.41 m like Kinect v1's
# knee -> foot (0.42), so the ankle lies 0.18 of the way up to the knee.  Input is
# millimetres in Kinect camera axes (the reader undoes SBU's normalisation).
SBU15 = LayoutAdapter(
    name="sbu15",
    source_joints=SBU15_JOINTS,
    recipes={
        **identity_recipes([n for n in SBU15_JOINTS if n in JOINT_NAMES]),
        "spine_shoulder": (("neck", 1.0),),
        "spine_mid": (("torso", 1.0),),
        "spine_base": (("left_hip", 0.5), ("right_hip", 0.5)),
        # Replaces the name-for-name copy above: SBU's neck is NTU's spine_shoulder, and
        # NTU's neck lies about a third of the way from there to the head (as for Kinect v1).
        "neck": (("neck", 0.65), ("head", 0.35)),
        "left_wrist": (("left_hand", 0.8), ("left_elbow", 0.2)),
        "right_wrist": (("right_hand", 0.8), ("right_elbow", 0.2)),
        # Hand tip: wrist -> hand continued by half (as for Kinect v1) = hand + 0.1 (hand - elbow).
        "left_hand_tip": (("left_hand", 1.1), ("left_elbow", -0.1)),
        "right_hand_tip": (("right_hand", 1.1), ("right_elbow", -0.1)),
        "left_thumb": (("left_hand", 1.0),),
        "right_thumb": (("right_hand", 1.0),),
        "left_ankle": (("left_foot", 0.82), ("left_knee", 0.18)),
        "right_ankle": (("right_foot", 0.82), ("right_knee", 0.18)),
    },
    scale=0.001,
    approximations=frozenset({"left_thumb", "right_thumb"}),
)
