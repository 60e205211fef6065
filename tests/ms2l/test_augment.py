"""Augmentation views: the switchable additions do what their names say."""
from __future__ import annotations

import numpy as np
import pytest

from ms2l.augment import Augment, swap_persons
from ms2l.errors import ConfigError
from pose_adapters import normalize
from pose_adapters.convention import JOINT_INDEX


def _person(rng: np.random.Generator, at: float, T: int = 20) -> np.ndarray:
    """A plausible standing body ``[T, 25, 3]`` at ``x = at`` with some motion."""
    j = rng.normal(0, 0.1, (25, 3)).astype(np.float32)
    j[JOINT_INDEX["spine_base"]] = (0, 0, 0)
    j[JOINT_INDEX["spine_shoulder"]] = (0, 0.5, 0)
    j[JOINT_INDEX["left_hip"]] = (-0.1, 0, 0)
    j[JOINT_INDEX["right_hip"]] = (0.1, 0, 0)
    j = j + np.array([at, 0, 3], np.float32)
    wave = np.sin(np.linspace(0, 3, T))[:, None, None].astype(np.float32) * 0.05
    return (j[None] + wave).astype(np.float32)


def test_swap_expresses_the_clip_in_the_other_persons_frame() -> None:
    rng = np.random.default_rng(0)
    a, b = _person(rng, -0.4), _person(rng, 0.5)
    ab, _ = normalize(np.stack([a, b]))  # [M, T, V, C]
    ba, _ = normalize(np.stack([b, a]))
    got = swap_persons(ab.transpose(1, 0, 2, 3))  # [T, M, V, C]
    want = ba.transpose(1, 0, 2, 3)
    # Person A's spine base sits at the origin in its own frame; zeros read as missing, so the
    # swapped clip loses it in the reference frames: compare every other joint.
    keep = (ab.transpose(1, 0, 2, 3) != 0).any(-1)[:, ::-1]
    assert got.shape == want.shape
    np.testing.assert_allclose(got[keep], want[keep], atol=1e-4)
    assert not np.allclose(got, ab.transpose(1, 0, 2, 3))


def test_swap_view_only_touches_two_person_clips() -> None:
    rng = np.random.default_rng(1)
    one, _ = normalize(_person(rng, 0.0))
    aug = Augment(yaw_deg=0, scale=0, shear=0, crop_min=1.0, speed=0, swap=1.0)
    x = one[:, None]  # [T, 1, V, C]
    np.testing.assert_allclose(aug(x, np.random.default_rng(0)), x)
    two, _ = normalize(np.stack([_person(rng, -0.4), _person(rng, 0.5)]))
    y = two.transpose(1, 0, 2, 3)
    out = aug(y, np.random.default_rng(0))
    # The new first person is at its own origin (the mean of its first frames): its spine base is near 0.
    assert np.abs(out[0, 0, JOINT_INDEX["spine_base"]]).max() < 0.05
    assert np.abs(y[0, 1, JOINT_INDEX["spine_base"]]).max() > 1.0


def test_unknown_view_is_a_clear_error() -> None:
    assert Augment.with_views(["swap"]).swap == 0.5
    with pytest.raises(ConfigError, match="swap"):
        Augment.with_views(["spin"])
