"""Configuration carried by every model and checkpoint."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to feed a model and read its output.

    The model input is ``x[B, T, M, V, C]``: ``M=persons`` people, ``V=joints``
    joints in the ``layout`` convention, ``C=coords`` coordinates, at ``fps``
    frames per second, normalised with ``normalization`` (see
    :func:`pose_adapters.normalize`), at most ``window`` frames in a live window.
    """

    encoder: str = "gru"
    hidden: int = 300
    layers: int = 2
    persons: int = 1
    joints: int = 25
    coords: int = 3
    layout: str = "ntu25"
    fps: float = 15.0
    window: int = 64
    normalization: str = "body"
    labels: tuple[str, ...] = ()
    dropout: float = 0.0
    # The encoder also reads frame-to-frame joint velocities (computed inside the model).
    velocity: bool = False
    # The encoder reads bone vectors (joint minus parent; the root keeps its place) in place of joint
    # positions, computed inside the model; with ``velocity`` it also reads their change.
    bone: bool = False
    # How the classifier pools the encoder's per-frame features (ms2l.encoders.POOLINGS); the
    # self-supervised heads always read the mean.
    pooling: str = "mean"
    # The classifier's last layer (ms2l.model.HEADS): linear, or cosine (scaled cosine logits).
    head: str = "linear"
    # Self-supervised heads.
    mask_ratio: float = 0.3
    jigsaw_segments: int = 3
    projection_dim: int = 128

    @property
    def input_dim(self) -> int:
        return self.persons * self.joints * self.coords

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config fields: {', '.join(unknown)}")
        d = dict(d)
        if "labels" in d:
            d["labels"] = tuple(d["labels"])
        return cls(**d)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class TaskConfig:
    """Which self-supervised tasks run, and how much each counts."""

    motion: bool = True
    jigsaw: bool = True
    contrastive: bool = True
    motion_weight: float = 1.0
    jigsaw_weight: float = 1.0
    contrastive_weight: float = 1.0
    temperature: float = 0.2
    # Contrastive positives from a second, independently augmented copy of each clip (its own
    # rotation, shear, crop, speed and views) instead of only masked / shuffled copies of one
    # augmentation: the encoder must then match clips across camera and body changes.
    pair_views: bool = False

    @property
    def enabled(self) -> list[str]:
        return [t for t in ("motion", "jigsaw", "contrastive") if getattr(self, t)]

    @classmethod
    def from_names(cls, names: str | list[str], **kw: Any) -> "TaskConfig":
        """``"motion,jigsaw"`` -> a config with exactly those tasks on."""
        items = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
        bad = [n for n in items if n not in ("motion", "jigsaw", "contrastive")]
        if bad or not items:
            raise ConfigError(f"tasks must be a comma list of motion, jigsaw, contrastive; got {names!r}")
        return cls(motion="motion" in items, jigsaw="jigsaw" in items, contrastive="contrastive" in items, **kw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Switchable augmentation additions (see :mod:`ms2l.augment`).
VIEWS = ("tilt", "jitter", "dropout", "mask", "mirror", "swap")
STRATEGIES = ("pretrain", "linear", "finetune", "joint", "scratch", "prototype")

#: Per-strategy defaults (epochs etc.), chosen on the NW-UCLA training views; see README.
DEFAULTS: dict[str, dict[str, Any]] = {
    "pretrain": {"epochs": 40},
    "linear": {"epochs": 100},
    "finetune": {"epochs": 50},
    "joint": {"epochs": 50},
    "scratch": {"epochs": 50},
    "prototype": {"epochs": 1},  # no optimiser: class means of augmented features
}


def default_recipe(strategy: str, **overrides: Any) -> "Recipe":
    """The recipe ``ms2l`` uses for ``strategy`` unless told otherwise (None values are ignored)."""
    if strategy not in DEFAULTS:
        raise ConfigError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    kw = {**DEFAULTS[strategy], **{k: v for k, v in overrides.items() if v is not None}}
    fraction = kw.get("label_fraction", 1.0)
    if fraction < 1 and overrides.get("epochs") is None:
        # Few labels make short epochs: keep the number of optimiser steps reasonable.
        kw["epochs"] = min(500, int(round(kw["epochs"] / fraction ** 0.5)))
    return Recipe(strategy=strategy, **kw)


@dataclass
class Recipe:
    """How a model is trained; saved with the model."""

    strategy: str
    epochs: int = 40
    batch_size: int = 64       # global batch: split over the ranks of a distributed run
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"   # cosine | constant
    grad_clip: float = 10.0
    augment: bool = True
    views: tuple[str, ...] = ()  # switchable augmentation additions (ms2l.augment.VIEWS)
    seed: int = 0
    tasks: TaskConfig = field(default_factory=TaskConfig)
    label_fraction: float = 1.0
    feature_copies: int = 5    # linear: augmented copies of each clip's features
    precision: str = "auto"    # auto (bf16 on CUDA that supports it, else fp32) | bf16 | fp32
    workers: int = 0           # DataLoader worker processes
    # Outlier exposure: with unlabelled other motion given to training, the weight of the loss
    # that pulls its predictions towards uniform (0: the other motion is not trained on).
    outlier_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        self.views = tuple(self.views)
        unknown = [v for v in self.views if v not in VIEWS]
        if unknown:
            raise ConfigError(f"unknown augmentation views {unknown}; choose from {', '.join(VIEWS)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = self.tasks.to_dict()
        return d
