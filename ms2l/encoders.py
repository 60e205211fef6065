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


class GRUEncoder(nn.Module):
    """The official MS²L encoder: a bidirectional GRU over per-frame joint vectors."""

    def __init__(self, input_dim: int, hidden: int = 300, layers: int = 2):
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # x: [B, T, D] per-frame joint vectors (D = M*V*C); lengths: [B] valid frames
        T = x.shape[1]
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or bool((lengths == T).all()):
            # No padding: the plain kernel is exact and exportable.
            return self.gru(x)[0]  # [B, T, 2H]
        # Packing makes the backward direction start at each sample's last real frame.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=T)[0]  # [B, T, 2H], zeros past each length


@register_encoder("gru")
def _gru(config: ModelConfig) -> nn.Module:
    return GRUEncoder(config.input_dim, config.hidden, config.layers)


def frame_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """``mask[B, T]``: True on each sample's first ``lengths[b]`` frames."""
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of ``h[B, T, F]`` over valid frames -> ``[B, F]``."""
    m = frame_mask(lengths, h.shape[1]).to(h.dtype)[..., None]  # [B, T, 1]
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)
