"""Model soups: several fine-tunes of one pretrained model, their weights averaged into one.

Fine-tunes that start from the same pretrained weights and differ only in their seed (the
order of batches, the augmentation draws, the classifier's initialisation) stay in one basin
of the loss, so the average of their weights is itself a good model -- often better than
each of them, at the cost of one model at inference (Wortsman et al. 2022, "Model soups").
"""
from __future__ import annotations

from typing import Sequence

import torch

from .model import MS2L


def member_seeds(seed: int, models: int) -> list[int]:
    """The seeds of a soup's ``models`` fine-tunes: ``seed``, ``seed + 100``, ... (the first is a plain fine-tune's)."""
    return [seed + 100 * m for m in range(models)]


def average_into(models: Sequence[MS2L]) -> MS2L:
    """Average the floating-point tensors of ``models`` (same config) into ``models[0]``; returns it.

    Integer buffers (batch-norm counters) keep the first model's values."""
    if not models:
        raise ValueError("a soup needs at least one model")
    states = [m.state_dict() for m in models]
    shapes = [{k: tuple(v.shape) for k, v in s.items()} for s in states]
    if any(sh != shapes[0] for sh in shapes[1:]):
        raise ValueError("the models of a soup must have the same tensors (one config)")
    soup = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()}
    models[0].load_state_dict(soup)
    return models[0]
