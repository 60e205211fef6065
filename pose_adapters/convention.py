"""The project's one skeleton convention: NTU RGB+D / Kinect v2, 25 joints.

Every skeleton in ms2l-live -- from MediaPipe, a dataset, motion capture -- is
expressed in this convention before anything else sees it.

Joints (0-based index, NTU 1-based number in brackets)::

     0 spine_base [1]      9 right_shoulder [10]  18 right_ankle [19]
     1 spine_mid [2]      10 right_elbow [11]     19 right_foot [20]
     2 neck [3]           11 right_wrist [12]     20 spine_shoulder [21]
     3 head [4]           12 left_hip [13]        21 left_hand_tip [22]
     4 left_shoulder [5]  13 left_knee [14]       22 left_thumb [23]
     5 left_elbow [6]     14 left_ankle [15]      23 right_hand_tip [24]
     6 left_wrist [7]     15 left_foot [16]       24 right_thumb [25]
     7 left_hand [8]      16 right_hip [17]
     8 right_shoulder [9] 17 right_knee [18]

"left" is always the *subject's* left.

Units are metres.  Axes are Kinect camera space, a right-handed frame:

* ``x`` grows to the camera's left (so, for a subject facing the camera,
  towards the subject's right hand side),
* ``y`` grows upwards,
* ``z`` grows away from the camera, along its optical axis.

Arrays use one axis vocabulary: ``M`` persons, ``T`` frames, ``V`` joints,
``C`` coordinates.  A skeleton sequence is ``joints[T, V=25, C=3]`` float32 with
``confidence[T, V=25]`` in ``[0, 1]``:

* ``1.0`` measured and tracked,
* ``(0, 1)`` measured with that visibility, or inferred by the sensor,
* at most :data:`SYNTHESISED` for joints an adapter built from neighbours
  (the adapter's ``synthesised`` table says which),
* ``0.0`` missing: the coordinates carry no information.

A frame whose joints all have confidence 0 has no person in it.
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 25

JOINT_NAMES: tuple[str, ...] = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

#: Confidence given to joints an adapter synthesised from others (an upper bound).
SYNTHESISED = 0.5

#: Bones as (child, parent) pairs, for drawing and for bone-length measures.
BONES: tuple[tuple[int, int], ...] = tuple(
    (JOINT_INDEX[a], JOINT_INDEX[b])
    for a, b in (
        ("spine_mid", "spine_base"), ("spine_shoulder", "spine_mid"), ("neck", "spine_shoulder"),
        ("head", "neck"),
        ("left_shoulder", "spine_shoulder"), ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"), ("left_hand", "left_wrist"),
        ("left_hand_tip", "left_hand"), ("left_thumb", "left_hand"),
        ("right_shoulder", "spine_shoulder"), ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"), ("right_hand", "right_wrist"),
        ("right_hand_tip", "right_hand"), ("right_thumb", "right_hand"),
        ("left_hip", "spine_base"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
        ("left_foot", "left_ankle"),
        ("right_hip", "spine_base"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
        ("right_foot", "right_ankle"),
    )
)


def _mirror_permutation() -> np.ndarray:
    perm = np.arange(NUM_JOINTS)
    for name, i in JOINT_INDEX.items():
        if name.startswith("left_"):
            j = JOINT_INDEX["right_" + name[5:]]
            perm[i], perm[j] = j, i
    return perm


#: ``joints[..., MIRROR_PERMUTATION, :]`` swaps every left joint with its right twin.
MIRROR_PERMUTATION: np.ndarray = _mirror_permutation()

#: The subject's left-side and right-side joints (for colouring and mirroring checks).
LEFT_JOINTS: frozenset[int] = frozenset(i for n, i in JOINT_INDEX.items() if n.startswith("left_"))
RIGHT_JOINTS: frozenset[int] = frozenset(i for n, i in JOINT_INDEX.items() if n.startswith("right_"))
