"""Skeleton-sequence encoders, chosen by name in :class:`~ms2l.config.ModelConfig`.

An encoder maps ``x[B, T, D]`` with ``lengths[B]`` to per-frame features
``h[B, T, out_dim]``; frames at or past a sample's length are padding.  New
encoders register here and every task and strategy works with them unchanged.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pose_adapters.convention import BONES

from .config import ModelConfig
from .errors import ConfigError

ENCODERS: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register_encoder(name: str) -> Callable[[Callable[[ModelConfig], nn.Module]], Callable[[ModelConfig], nn.Module]]:
    def deco(factory: Callable[[ModelConfig], nn.Module]) -> Callable[[ModelConfig], nn.Module]:
        ENCODERS[name] = factory
        return factory
    return deco


def build_encoder(config: ModelConfig) -> nn.Module:
    try:
        return ENCODERS[config.encoder](config)
    except KeyError:
        raise ConfigError(f"unknown encoder {config.encoder!r}; known: {', '.join(sorted(ENCODERS))}") from None


#: Brings velocities to about the joints' spread (NW-UCLA at 15 fps: coordinate std 0.98, change 0.31).
VELOCITY_SCALE = 3.0


def with_velocity(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, D] -> [B, T, 2D]``: each frame's joints and their change since the previous frame
    (zero on the first), scaled by :data:`VELOCITY_SCALE`.  Computed inside the model, so training,
    evaluation and the live window see the same input."""
    v = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], 1)
    return torch.cat([x, VELOCITY_SCALE * v], -1)


#: Brings bone vectors to about the joints' spread (NW-UCLA training clips, body-normalised: joint
#: coordinate std 1.20, bone 0.34).
BONE_SCALE = 3.0


def bone_parents(config: ModelConfig) -> tuple[int, ...] | None:
    """Each joint's parent in ``config.layout`` (the root is its own parent) when the encoder reads
    bones, else None.  The table is the layout's :data:`pose_adapters.convention.BONES`."""
    if not config.bone:
        return None
    if config.layout != "ntu25" or config.joints != 25 or config.coords != 3:
        raise ConfigError(f"bone input needs 3-D joints in the ntu25 layout, got {config.layout} "
                          f"({config.joints} joints x {config.coords} coordinates)")
    parents = list(range(config.joints))
    for child, parent in BONES:
        parents[child] = parent
    return tuple(parents)


def with_bones(x: torch.Tensor, parents: "tuple[int, ...] | torch.Tensor") -> torch.Tensor:
    """``[B, T, D] -> [B, T, D]``: each joint's position replaced by its bone, the vector from its
    parent, scaled by :data:`BONE_SCALE`; a root (its own parent) keeps its position.  ``D`` is a
    whole number of people of ``len(parents)`` joints x 3 coordinates.  Computed inside the model, so
    training, evaluation and the live window see the same input."""
    B, T, D = x.shape
    V = len(parents)
    j = x.reshape(B, T, -1, V, 3)                                        # [B, T, M, V, C]
    idx = torch.as_tensor(parents, device=x.device)
    root = (idx == torch.arange(V, device=x.device)).to(x.dtype)[:, None]  # [V, 1]
    b = root * j + (1 - root) * BONE_SCALE * (j - j[:, :, :, idx])
    return b.reshape(B, T, D)


class GRUEncoder(nn.Module):
    """The official MS²L encoder: a bidirectional GRU over per-frame joint vectors.

    ``velocity``: the GRU also reads each joint's frame-to-frame change (:func:`with_velocity`);
    ``parents``: it reads bones in place of joint positions (:func:`with_bones`), before velocity."""

    def __init__(self, input_dim: int, hidden: int = 300, layers: int = 2, velocity: bool = False,
                 parents: tuple[int, ...] | None = None):
        super().__init__()
        self.velocity = velocity
        self.bone = parents is not None
        if parents is not None:  # a buffer (not saved: it is the layout's table) moves with the model
            self.register_buffer("parents", torch.tensor(parents), persistent=False)
        self.gru = nn.GRU(input_dim * (2 if velocity else 1), hidden, num_layers=layers, batch_first=True,
                          bidirectional=True)
        self.out_dim = 2 * hidden

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``x[B, T, D]`` joint vectors -> what the GRU reads: bones if built so, then velocity."""
        if self.bone:
            x = with_bones(x, self.parents)  # [B, T, D]
        if self.velocity:
            x = with_velocity(x)  # [B, T, 2D]
        return x

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # x: [B, T, D] per-frame joint vectors (D = M*V*C); lengths: [B] valid frames
        x = self.inputs(x)
        T = x.shape[1]
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or bool((lengths == T).all()):
            # No padding: the plain kernel is exact and exportable.
            return self.gru(x)[0]  # [B, T, 2H]
        # Packing makes the backward direction start at each sample's last real frame.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=T)[0]  # [B, T, 2H], zeros past each length


class PersonsGRUEncoder(GRUEncoder):
    """The MS²L GRU run on each person alone (shared weights), features side by side.

    ``x[B, T, D = M*V*C]`` -> ``h[B, T, M * 2H]``: person ``m``'s frames go through the one-person
    GRU, so a two-person model can start from an encoder pretrained on single people (its weights
    have the one-person shapes); how the two move relative to each other stays in the coordinates,
    which :func:`pose_adapters.normalize` takes in the first person's body frame.
    """

    def __init__(self, persons: int, person_dim: int, hidden: int = 300, layers: int = 2, velocity: bool = False,
                 parents: tuple[int, ...] | None = None):
        super().__init__(person_dim, hidden, layers, velocity, parents)
        self.persons = persons
        self.out_dim = persons * 2 * hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        M = self.persons
        xp = x.reshape(B, T, M, -1).permute(0, 2, 1, 3).reshape(B * M, T, -1)  # [B*M, T, V*C]
        h = super().forward(xp, lengths.repeat_interleave(M))                     # [B*M, T, 2H]
        return h.reshape(B, M, T, -1).permute(0, 2, 1, 3).reshape(B, T, -1)       # [B, T, M*2H]


@register_encoder("gru")
def _gru(config: ModelConfig) -> nn.Module:
    return GRUEncoder(config.input_dim, config.hidden, config.layers, config.velocity, bone_parents(config))


@register_encoder("gru-persons")
def _gru_persons(config: ModelConfig) -> nn.Module:
    return PersonsGRUEncoder(config.persons, config.joints * config.coords, config.hidden, config.layers,
                             config.velocity, bone_parents(config))


def for_persons(config: ModelConfig, persons: int) -> ModelConfig:
    """``config`` for a model of ``persons`` people built on its encoder's weights: a one-person
    ``gru`` encoder becomes ``gru-persons`` (the same weights, run on each person)."""
    if persons == config.persons:
        return config
    if config.encoder == "gru" and config.persons == 1:
        return config.replace(persons=persons, encoder="gru-persons")
    if config.encoder == "gru-persons":
        return config.replace(persons=persons)
    raise ConfigError(f"an encoder for {config.persons} person(s) ({config.encoder}) cannot read {persons}-person input")


def frame_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """``mask[B, T]``: True on each sample's first ``lengths[b]`` frames."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of ``h[B, T, F]`` over valid frames -> ``[B, F]``."""
    m = frame_mask(lengths, h.shape[1]).to(h.dtype)[..., None]  # [B, T, 1]
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


#: How per-frame features become one clip feature (``ModelConfig.pooling``): ``mean`` over valid
#: frames (the paper's), or ``mean+max`` -- the mean and the per-feature maximum side by side.
#: ``benchmarks/results/linear_probe.md``: mean+max lifts NW-UCLA linear evaluation on the
#: validation view (view 1 -> view 2) from 73.6 to 75.2-79.0 % with the same frozen encoder.
POOLINGS = ("mean", "mean+max")


def pool(h: torch.Tensor, lengths: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """``h[B, T, F]`` over each sample's valid frames -> ``[B, F]`` (mean) or ``[B, 2F]`` (mean+max).

    The mean always comes first: ``pool(h, l, how)[:, :F] == masked_mean(h, l)``."""
    mean = masked_mean(h, lengths)
    if how == "mean":
        return mean
    if how == "mean+max":
        valid = frame_mask(lengths, h.shape[1])[..., None]  # [B, T, 1]
        peak = h.masked_fill(~valid, float("-inf")).amax(1)  # [B, F]
        return torch.cat([mean, torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))], 1)
    raise ConfigError(f"unknown pooling {how!r}; choose from {', '.join(POOLINGS)}")
