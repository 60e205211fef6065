"""The three MS²L self-supervised tasks: views and losses.

All views are built on the tensors' own device, for the whole batch at once.
Shapes: ``x[B, T, D]`` padded sequences, ``lengths[B]`` valid frames each.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from . import distributed
from .encoders import frame_mask

#: The 3! orders of the jigsaw segments; a sample's jigsaw label indexes this.
PERMUTATIONS = torch.tensor(list(itertools.permutations(range(3))), dtype=torch.long)


# --- motion prediction -----------------------------------------------------------------

def tail_mask(lengths: torch.Tensor, T: int, ratio: float = 0.3) -> torch.Tensor:
    """``[B, T]`` True on the last ``round(ratio * length)`` valid frames of each sample."""
    n_mask = torch.round(lengths.to(torch.float32) * ratio).long()
    t = torch.arange(T, device=lengths.device)[None, :]
    return (t >= (lengths - n_mask)[:, None]) & (t < lengths[:, None])


def mask_tail(x: torch.Tensor, lengths: torch.Tensor, ratio: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero the last ``ratio`` of each sample's valid frames; returns (masked x, mask[B, T])."""
    m = tail_mask(lengths, x.shape[1], ratio)
    return x.masked_fill(m[..., None], 0.0), m


def motion_loss(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every valid frame (the whole sequence is decoded).

    In a distributed run the mean is over the frames of the global batch (scaled so
    that DDP's averaging of gradients over ranks gives exactly that mean's gradient).
    """
    m = frame_mask(lengths, target.shape[1]).to(pred.dtype)[..., None]
    count = (m.sum() * target.shape[-1]).detach().float()
    info = distributed.current()
    if info.enabled:
        count = count.clone()
        torch.distributed.all_reduce(count)
        count = count / info.world_size
    return ((pred - target) ** 2 * m).sum() / count.clamp_min(1.0)


# --- temporal jigsaw -------------------------------------------------------------------

def _jigsaw_index(lengths: torch.Tensor, T: int, perm_ids: torch.Tensor) -> torch.Tensor:
    """``idx[B, T]`` with ``shuffled[:, t] = x[:, idx[:, t]]``; padding maps to itself."""
    B = lengths.shape[0]
    dev = lengths.device
    k = torch.arange(4, device=dev)
    starts = (k[None, :] * lengths[:, None] + 2) // 3          # [B, 4] segment starts, last = length
    seg_len = starts[:, 1:] - starts[:, :-1]                   # [B, 3]
    order = PERMUTATIONS.to(dev)[perm_ids]                     # [B, 3] source segment of each output slot
    out_len = torch.gather(seg_len, 1, order)                  # [B, 3]
    out_start = torch.cumsum(out_len, 1) - out_len             # [B, 3]
    t = torch.arange(T, device=dev)[None, :].expand(B, T)
    slot = (t[:, :, None] >= (out_start + out_len)[:, None, :]).sum(-1).clamp_max(2)  # [B, T]
    src_seg = torch.gather(order, 1, slot)
    idx = torch.gather(starts[:, :3], 1, src_seg) + t - torch.gather(out_start, 1, slot)
    return torch.where(t < lengths[:, None], idx, t)


def jigsaw(x: torch.Tensor, lengths: torch.Tensor, perm_ids: torch.Tensor) -> torch.Tensor:
    """Cut each sample's valid frames into 3 segments and reorder them by ``PERMUTATIONS[perm_ids]``."""
    idx = _jigsaw_index(lengths, x.shape[1], perm_ids)
    return torch.gather(x, 1, idx[..., None].expand_as(x))


def unjigsaw(shuffled: torch.Tensor, lengths: torch.Tensor, perm_ids: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`jigsaw`."""
    idx = _jigsaw_index(lengths, shuffled.shape[1], perm_ids)
    return torch.zeros_like(shuffled).scatter(1, idx[..., None].expand_as(shuffled), shuffled)


def random_permutations(batch: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.randint(len(PERMUTATIONS), (batch,), generator=generator).to(device)


# --- contrastive -----------------------------------------------------------------------

def contrastive_loss(
    z: torch.Tensor, temperature: float, candidates: torch.Tensor | None = None, offset: int = 0
) -> torch.Tensor:
    """Multi-view InfoNCE over ``z[V, B, F]`` (V views of B clips).

    For every ordered pair of distinct views (a, p), clip i in view a must pick
    clip i of view p among all clips of view p, by cosine similarity divided by
    ``temperature``.  The loss is the mean cross-entropy over pairs and clips.
    ``candidates[V, N, F]`` (default ``z``) widens the choice, e.g. to the whole
    global batch of a distributed run, where ``z`` sits at ``offset``.
    """
    z = F.normalize(z, dim=-1)
    c = z if candidates is None else F.normalize(candidates, dim=-1)
    V, B, _ = z.shape
    target = torch.arange(B, device=z.device) + offset
    losses = [
        F.cross_entropy(z[a] @ c[p].T / temperature, target)
        for a in range(V) for p in range(V) if a != p
    ]
    return torch.stack(losses).mean()
