"""BVH motion capture onto the convention, by joint-name matching.

A BVH file names its joints freely.  :data:`BVH_NAME_TABLE` maps the names used
by common rigs onto a fixed list of canonical joints (:data:`BVH_CANONICAL`);
:func:`canonical_positions` picks them out of a file's joint positions, and the
``bvh`` adapter maps the canonical joints onto NTU-25.  Names are compared after
lower-casing and removing any ``namespace:`` prefix and the characters ``_ -.``,
so ``Shoulder_L``, ``shoulder-l`` and ``mixamorig:LeftShoulder`` all match.
An end site is named after its joint with ``_End`` appended (``Head_End``).
The first name of each row that a file has wins.

=================  ===============================================  ===============
canonical          BVH names (Bandai-Namco first, then CMU/Mixamo)  NTU joint
=================  ===============================================  ===============
hips               Hips, Pelvis                                     spine_base
chest              Chest, Spine2, Spine1                            spine_mid
neck               Neck, Neck1                                      spine_shoulder
head               Head                                             neck
head_end           Head_End, HeadTop_End                            head
l_shoulder         UpperArm_L, LeftArm, LShldr, LeftUpperArm        left_shoulder
l_elbow            LowerArm_L, LeftForeArm, LForeArm, LeftLowerArm  left_elbow
l_wrist            Hand_L, LeftHand, LHand                          left_wrist
l_hand_end         Hand_L_End, LeftHand_End, LHand_End              left_hand (approx.)
l_hip              UpperLeg_L, LeftUpLeg, LThigh, LeftUpperLeg      left_hip
l_knee             LowerLeg_L, LeftLeg, LShin, LeftLowerLeg         left_knee
l_ankle            Foot_L, LeftFoot, LFoot                          left_ankle
l_toes             Toes_L, LeftToeBase, LeftToe, LToe               left_foot
=================  ===============================================  ===============

and the same for ``r_`` / ``_R`` / ``Right``.  Reallusion Character Creator names
(``CC_Base_Hip``, ``CC_Base_Spine02``, ``CC_Base_NeckTwist01``, ``CC_Base_Head``,
``CC_Base_L_Upperarm``/``Forearm``/``Hand``, ``CC_Base_L_Thigh``/``Calf``/``Foot``/``ToeBase``;
the CMU conversion) follow last in each row (:data:`CC_BASE_NAMES`).  When a file
lacks the head or hand end site, or has it at zero length, :data:`BVH_FALLBACKS`
builds it from the neck/head or elbow/wrist (synthesised).  Synthesised: ``hand_tip`` continues
wrist -> hand end to twice its length; ``thumb`` is placed at the hand end.  The
fits were checked against Kinect v2 proportions: Bandai-Namco's ``Chest`` sits at
0.6 of hips -> neck (Kinect's spine mid: 0.575), ``Neck`` at shoulder height (Kinect's
spine shoulder), ``Head`` 6.5 cm higher (Kinect's neck: 6-7 cm), ``Head_End`` 10 cm
above that (Kinect's head: 10-13 cm), the hand end site 5 cm past the wrist (Kinect's
hand: 5-7 cm), and ``Toes`` at the ball of the foot (Kinect's foot).

Axes and units: BVH is right-handed with ``Y`` up and the performer facing ``+Z``
in the rest pose.  The adapter views them from a virtual camera on the ``+Z``
axis looking back along ``-Z``, so a performer facing ``+Z`` faces the camera:
``(X, Y, Z) -> (-X, Y, -Z)`` (a 180 degree turn about the vertical, det +1); for a
Z-up world (``up="z"``, or ``up="auto"`` to detect it) ``(X, Y, Z) -> (-X, Z, Y)``; and
centimetres -> metres (``scale=0.01``; pass ``scale=`` to :func:`bvh_to_ntu` in
:mod:`pose_adapters.readers.bvh` for files in other units).  The camera distance
is whatever the file's root position gives.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .convention import SYNTHESISED
from .table import AdapterError, LayoutAdapter

#: Canonical joint -> accepted BVH names (before normalisation), best first.
BVH_NAME_TABLE: dict[str, tuple[str, ...]] = {
    "hips": ("Hips", "Pelvis"),
    "chest": ("Chest", "Spine2", "Spine1"),
    "neck": ("Neck", "Neck1"),
    "head": ("Head",),
    "head_end": ("Head_End", "HeadTop_End"),
}
for _side, _s, _long in (("l", "L", "Left"), ("r", "R", "Right")):
    BVH_NAME_TABLE.update({
        f"{_side}_shoulder": (f"UpperArm_{_s}", f"{_long}Arm", f"{_s}Shldr", f"{_long}UpperArm"),
        f"{_side}_elbow": (f"LowerArm_{_s}", f"{_long}ForeArm", f"{_s}ForeArm", f"{_long}LowerArm"),
        f"{_side}_wrist": (f"Hand_{_s}", f"{_long}Hand", f"{_s}Hand"),
        f"{_side}_hand_end": (f"Hand_{_s}_End", f"{_long}Hand_End", f"{_s}Hand_End"),
        f"{_side}_hip": (f"UpperLeg_{_s}", f"{_long}UpLeg", f"{_s}Thigh", f"{_long}UpperLeg"),
        f"{_side}_knee": (f"LowerLeg_{_s}", f"{_long}Leg", f"{_s}Shin", f"{_long}LowerLeg"),
        f"{_side}_ankle": (f"Foot_{_s}", f"{_long}Foot", f"{_s}Foot"),
        f"{_side}_toes": (f"Toes_{_s}", f"{_long}ToeBase", f"{_long}Toe", f"{_s}Toe"),
    })

#: Reallusion Character Creator / iClone rigs (the CMU BVH conversion in ../shared): names
#: appended to each row, so Bandai-Namco and CMU/Mixamo names keep their precedence.  Heights
#: in frame 0 of CMU 002_01 (standing): CC_Base_Spine02 at 0.49 of hips -> neck (Kinect's spine
#: mid: 0.575), CC_Base_NeckTwist01 5 cm above the shoulders (Kinect's spine shoulder:
#: 4 cm), CC_Base_Head 8 cm above that (Kinect's neck: 6.5 cm).  The rig has no head or
#: hand end site (its fingers and face bones are no match for Kinect's head and hand), so
#: those are built by :data:`BVH_FALLBACKS`.
CC_BASE_NAMES: dict[str, tuple[str, ...]] = {
    "hips": ("CC_Base_Hip",),
    "chest": ("CC_Base_Spine02",),
    "neck": ("CC_Base_NeckTwist01",),
    "head": ("CC_Base_Head",),
}
for _side, _s in (("l", "L"), ("r", "R")):
    CC_BASE_NAMES.update({
        f"{_side}_shoulder": (f"CC_Base_{_s}_Upperarm",),
        f"{_side}_elbow": (f"CC_Base_{_s}_Forearm",),
        f"{_side}_wrist": (f"CC_Base_{_s}_Hand",),
        f"{_side}_hip": (f"CC_Base_{_s}_Thigh",),
        f"{_side}_knee": (f"CC_Base_{_s}_Calf",),
        f"{_side}_ankle": (f"CC_Base_{_s}_Foot",),
        f"{_side}_toes": (f"CC_Base_{_s}_ToeBase",),
    })
for _canonical, _names in CC_BASE_NAMES.items():
    BVH_NAME_TABLE[_canonical] = BVH_NAME_TABLE[_canonical] + _names

BVH_CANONICAL: tuple[str, ...] = tuple(BVH_NAME_TABLE)

#: BVH world (Y up, performer facing +Z) -> convention, seen from a camera on +Z.
BVH_AXES = np.diag([-1.0, 1.0, -1.0]).astype(np.float32)

#: A Z-up BVH world (performer facing ``-Y``, as Y-up files turned +90 degrees about X
#: are) -> convention: first back to Y up, ``(X, Y, Z) -> (X, Z, -Y)``, then
#: :data:`BVH_AXES`; together ``(X, Y, Z) -> (-X, Z, Y)``, det +1.
BVH_AXES_Z_UP = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
BVH_UP_AXES: dict[str, np.ndarray] = {"y": BVH_AXES, "z": BVH_AXES_Z_UP}


def normalise_joint_name(name: str) -> str:
    """``"mixamorig:Left-Hand"`` -> ``"lefthand"``: the key names are compared by."""
    return re.sub(r"[\s_\-.]", "", name.split(":")[-1]).lower()


def match_bvh_names(names: Sequence[str]) -> dict[str, int]:
    """Canonical joint -> index into ``names`` for every canonical joint the file has."""
    index = {}
    for i, n in enumerate(names):
        index.setdefault(normalise_joint_name(n), i)
    found = {}
    for canonical, aliases in BVH_NAME_TABLE.items():
        for alias in aliases:
            i = index.get(normalise_joint_name(alias))
            if i is not None:
                found[canonical] = i
                break
    return found


#: Stand-ins for canonical joints a file lacks, or has as a zero-length end site
#: (the Bandai-Namco walk take has those): canonical joint -> ((canonical, weight), ...).
#: Built joints count as synthesised (present = ``SYNTHESISED``).
BVH_FALLBACKS: dict[str, tuple[tuple[str, float], ...]] = {
    # Bandai-Namco: neck -> head is 6.5 cm, head -> head end 10 cm.
    "head_end": (("head", 2.5), ("neck", -1.5)),
    # Bandai-Namco: forearm 22.3 cm, wrist -> hand end 5 cm.
    "l_hand_end": (("l_wrist", 1.22), ("l_elbow", -0.22)),
    "r_hand_end": (("r_wrist", 1.22), ("r_elbow", -0.22)),
}


def canonical_positions(names: Sequence[str], positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pick canonical joints out of ``positions[T, J, 3]`` (J = ``len(names)``).

    Returns ``(positions[T, K, 3], present[T, K])`` in :data:`BVH_CANONICAL` order:
    ``present`` is 1 for joints found by name, ``SYNTHESISED`` for joints built by
    :data:`BVH_FALLBACKS`, 0 (with zero positions) for joints the file lacks.  An
    end site that coincides with its joint in every frame counts as lacking.
    """
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (len(names), 3):
        raise AdapterError(f"bvh: expected positions [T, {len(names)}, 3], got {list(positions.shape)}")
    found = match_bvh_names(names)
    k_of = {c: k for k, c in enumerate(BVH_CANONICAL)}
    out = np.zeros((positions.shape[0], len(BVH_CANONICAL), 3), np.float32)
    present = np.zeros(out.shape[:2], np.float32)
    for canonical, i in found.items():
        out[:, k_of[canonical]] = positions[:, i]
        present[:, k_of[canonical]] = 1.0
    for end, recipe in BVH_FALLBACKS.items():
        k = k_of[end]
        anchor = k_of[recipe[0][0]]
        if present[:, k].any() and present[:, anchor].any():
            if np.abs(out[:, k] - out[:, anchor]).max() < 1e-6:
                present[:, k] = 0.0
        if not present[:, k].any() and all(present[:, k_of[c]].any() for c, _ in recipe):
            out[:, k] = sum(w * out[:, k_of[c]] for c, w in recipe)
            present[:, k] = SYNTHESISED
    return out, present


def _bvh_recipes() -> dict:
    r = {
        "spine_base": (("hips", 1.0),),
        "spine_mid": (("chest", 1.0),),
        "spine_shoulder": (("neck", 1.0),),
        "neck": (("head", 1.0),),
        "head": (("head_end", 1.0),),
    }
    for side, s in (("left", "l"), ("right", "r")):
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            r[f"{side}_{joint}"] = ((f"{s}_{joint}", 1.0),)
        r[f"{side}_hand"] = ((f"{s}_hand_end", 1.0),)
        r[f"{side}_hand_tip"] = ((f"{s}_hand_end", 2.0), (f"{s}_wrist", -1.0))
        r[f"{side}_thumb"] = ((f"{s}_hand_end", 1.0),)
        r[f"{side}_foot"] = ((f"{s}_toes", 1.0),)
    return r


BVH = LayoutAdapter(
    name="bvh",
    source_joints=BVH_CANONICAL,
    recipes=_bvh_recipes(),
    axes=BVH_AXES.copy(),
    scale=0.01,
    approximations=frozenset({"left_hand", "right_hand", "left_thumb", "right_thumb"}),
)


def detect_up_axis(positions: np.ndarray, present: np.ndarray) -> str:
    """``"y"`` or ``"z"``: the world axis the spine points along, from canonical
    ``positions[T, K, 3]`` and ``present[T, K]`` (:func:`canonical_positions`).

    The vertical is taken as the mean hips -> neck direction (hips -> head without a
    neck) over the frames; ``"y"`` when the file lacks those joints.  Some files store a
    Z-up hierarchy yet rotate it to Y up with the root's channels (the CMU conversion's
    ``RL_BoneRoot``): looking at the posed skeleton, not the offsets, gets both right.
    """
    k_of = {c: k for k, c in enumerate(BVH_CANONICAL)}
    hips = k_of["hips"]
    top = next((k_of[c] for c in ("neck", "head") if present[:, k_of[c]].any()), None)
    if top is None or not present[:, hips].any():
        return "y"
    both = (present[:, hips] > 0) & (present[:, top] > 0)
    spine = (positions[both, top] - positions[both, hips]).mean(axis=0)
    return "z" if abs(spine[2]) > abs(spine[1]) else "y"
