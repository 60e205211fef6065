"""Table-driven joint-layout adapters.

A layout is data: for every NTU joint, a recipe naming the source joints it is
built from and their weights.  A recipe with one source at weight 1 is a direct
copy; anything else (a midpoint, an extrapolated hand tip) is *synthesised* and
its confidence is capped at :data:`~pose_adapters.convention.SYNTHESISED`.  A
joint with no recipe is missing (confidence 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .convention import JOINT_INDEX, JOINT_NAMES, MIRROR_PERMUTATION, NUM_JOINTS, SYNTHESISED

Recipe = Sequence[tuple[str, float]]


class AdapterError(ValueError):
    """Input that does not fit an adapter's layout."""


@dataclass(frozen=True)
class LayoutAdapter:
    """Maps a source layout ``[T, S, 3]`` onto the NTU-25 convention.

    Attributes:
        name: registry name.
        source_joints: names of the S source joints, in their array order.
        recipes: NTU joint name -> ((source joint, weight), ...).
        axes: 3x3 matrix taking source coordinates to convention axes
            (``out = axes @ xyz``); must have determinant +1 or -1 (documented per adapter).
        scale: multiplier taking source units to metres.
        approximations: NTU joints copied from a source joint that only stands in
            for them (e.g. a thumb placed at the hand); marked synthesised too.
    """

    name: str
    source_joints: tuple[str, ...]
    recipes: Mapping[str, Recipe]
    axes: np.ndarray = field(default_factory=lambda: np.eye(3, dtype=np.float32))
    scale: float = 1.0
    approximations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        src = {n: i for i, n in enumerate(self.source_joints)}
        weights = np.zeros((NUM_JOINTS, len(self.source_joints)), np.float32)
        synth = np.zeros(NUM_JOINTS, bool)
        for joint, recipe in self.recipes.items():
            if joint not in JOINT_INDEX:
                raise AdapterError(f"{self.name}: unknown NTU joint {joint!r}")
            for source, w in recipe:
                if source not in src:
                    raise AdapterError(f"{self.name}: recipe for {joint!r} names unknown source joint {source!r}")
                weights[JOINT_INDEX[joint], src[source]] += w
            direct = len(recipe) == 1 and recipe[0][1] == 1.0
            synth[JOINT_INDEX[joint]] = not direct or joint in self.approximations
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "synthesised", synth)
        object.__setattr__(self, "missing", ~weights.any(axis=1))

    @property
    def num_source_joints(self) -> int:
        return len(self.source_joints)

    def to_ntu(
        self,
        joints: np.ndarray,
        confidence: np.ndarray | None = None,
        *,
        mirrored: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Convert ``joints[T, S, 3]`` (and ``confidence[T, S]``) to ``([T, 25, 3], [T, 25])``.

        ``mirrored=True`` says the source saw a mirror image of the subject (a selfie
        camera, NTU's RGB videos): the left/right labels are swapped back and the
        x axis flipped, so both views of one person give the same skeleton.
        """
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 3 or joints.shape[1] != self.num_source_joints or joints.shape[2] not in (2, 3):
            raise AdapterError(
                f"{self.name}: expected joints of shape [T, {self.num_source_joints}, 3], got {list(joints.shape)}"
            )
        if joints.shape[2] == 2:
            joints = np.concatenate([joints, np.zeros_like(joints[..., :1])], axis=-1)
        if confidence is None:
            confidence = np.ones(joints.shape[:2], np.float32)
        confidence = np.asarray(confidence, dtype=np.float32)
        if confidence.shape != joints.shape[:2]:
            raise AdapterError(f"{self.name}: confidence shape {list(confidence.shape)} != {list(joints.shape[:2])}")
        finite = np.isfinite(joints).all(axis=-1)
        conf = np.where(finite, np.clip(np.nan_to_num(confidence), 0.0, 1.0), 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            xyz = np.where(finite[..., None], joints, 0.0) * self.scale
            xyz = xyz @ np.asarray(self.axes, np.float32).T
            out = np.einsum("vs,tsc->tvc", self.weights, xyz).astype(np.float32)
        # A joint is only as trustworthy as its least trustworthy source.
        used = self.weights != 0
        src_conf = np.where(used[None], conf[:, None, :], np.inf)
        out_conf = np.min(src_conf, axis=-1)
        out_conf = np.where(np.isinf(out_conf), 0.0, out_conf)
        out_conf = np.where(self.synthesised[None], np.minimum(out_conf, SYNTHESISED), out_conf).astype(np.float32)
        # Finite but absurd input (|x| near 3e38) can overflow in the weighted sums: that joint is missing.
        out_conf = np.where(np.isfinite(out).all(axis=-1), out_conf, 0.0).astype(np.float32)
        out = np.where(out_conf[..., None] > 0, out, 0.0).astype(np.float32)
        if mirrored:
            out, out_conf = mirror(out, out_conf)
        return out, out_conf


def mirror(joints: np.ndarray, confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror NTU skeletons ``[..., 25, 3]``: flip x and swap left/right joints."""
    out = joints[..., MIRROR_PERMUTATION, :].copy()
    out[..., 0] *= -1.0
    conf = None if confidence is None else confidence[..., MIRROR_PERMUTATION].copy()
    return out, conf


def identity_recipes(names: Sequence[str]) -> dict[str, Recipe]:
    """Recipes copying each named NTU joint from the source joint of the same name."""
    return {n: ((n, 1.0),) for n in names}


__all__ = ["AdapterError", "LayoutAdapter", "mirror", "identity_recipes", "JOINT_NAMES"]
