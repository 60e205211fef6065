"""Open-set rejection: a model that does not know says so.

Every classifier carries class prototypes -- the mean standardised feature of each
class's training clips (``classifier.prototypes[K, F]``, saved with the weights) --
and a calibrated threshold.  The *novelty* of a clip is its squared distance to the
nearest prototype, per feature dimension, divided by the threshold:

    novelty = min_c mean_f (z_f - mu_cf)^2 / threshold        (z: standardised features)

so ``novelty > 1`` means "none of these".  Distance to the class means was chosen over
the softmax's top probability and the energy score by ``benchmarks/openset.py``
(leave-classes-out on NW-UCLA and UTD-MHAD); the softmax is confident everywhere,
so its top probability hardly separates unknown motion from known.

The threshold is the ``quantile`` (default 95 %) of the known clips' scores, each
clip scored against prototypes computed *without* it (leave-one-out), so that the
threshold reflects unseen clips of known actions, not the clips the means were made
of.  Unlabelled negatives (other datasets' clips), when given, are only *measured*
(their rejected share goes to the metadata), never used to move the threshold.

When the app cross-validates (a handful of clips per action), every clip is also held
out once from a fold model that never trained on it: ``calibrate(held_out=...)`` then
sets the threshold from those scores instead (:func:`heldout_scores`), the picture of a
new clip of a known action.  The fold models' scores are taken as they are: each model
standardises its features on its own training clips, so squared distances share a unit.
``benchmarks/openset_fewshot.py`` (2 and 3 clips per action, 36 runs) chose this: it
accepts known test clips closest to the 95 % asked (mean miss 3.3 points; leave-one-out
4.9; scores over each model's prototype spread 5.7).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .data.clipset import ClipSet
from .errors import ModelFileError
from .model import MS2L

SCORE = "prototype-distance"
DEFAULT_QUANTILE = 0.95


@torch.no_grad()
def standardised_features(model: MS2L, clips: ClipSet, device: torch.device | str = "cpu",
                          max_frames: int | None = None) -> torch.Tensor:
    """``z[N, F]``: pooled encoder features after the classifier's own standardisation."""
    from .train import extract_features

    f = extract_features(model, clips, torch.device(device), max_frames=max_frames).float()
    model.classifier.eval()
    return model.classifier.norm(f.to(model.classifier.norm.running_mean.device)).cpu()


def novelty_scores(z: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """``[N]`` min over classes of the mean squared distance to the class prototype (unscaled)."""
    return torch.cdist(z, prototypes.to(z.dtype)).pow(2).min(1).values / z.shape[1]


def _prototypes(model: MS2L, train: ClipSet, device: torch.device | str) -> tuple[torch.Tensor, ...]:
    """``(z[N, F], y[N], sums[K, F], counts[K], prototypes[K, F])`` of ``train`` under ``model``."""
    z = standardised_features(model, train, device)
    y = torch.as_tensor(train.labels, dtype=torch.long)
    K = model.classifier.fc.out_features
    sums = torch.zeros(K, z.shape[1]).index_add_(0, y, z)
    counts = torch.bincount(y, minlength=K).float()
    return z, y, sums, counts, sums / counts.clamp_min(1)[:, None]


def heldout_scores(model: MS2L, train: ClipSet, held: ClipSet, device: torch.device | str = "cpu") -> np.ndarray:
    """``[len(held)]`` novelty (unscaled, as :func:`novelty_scores`) of clips ``held`` out of
    ``model``'s training -- a cross-validation fold model trained on ``train`` -- against the
    prototypes of ``train``: what :func:`calibrate` takes as ``held_out``.  Leaves ``model``'s
    own prototypes alone."""
    if model.classifier is None:
        raise ModelFileError("open-set calibration needs a classifier")
    *_, protos = _prototypes(model, train, device)
    return novelty_scores(standardised_features(model, held, device), protos).numpy()


def group_folds(groups: np.ndarray, folds: int) -> list[np.ndarray]:
    """Held-out index sets ``[i]`` for cross-validation by group (e.g. a clip's subject): the
    distinct groups, sorted, dealt round-robin into ``min(folds, groups)`` folds, so no group is
    split between training and held-out clips.  Fold models trained this way score people they
    never saw (:func:`heldout_scores`), the picture of a new user, for ``calibrate(held_out=)``."""
    groups = np.asarray(groups)
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    distinct = np.unique(groups)
    if len(distinct) < 2:
        raise ValueError(f"cross-validation by group needs at least 2 groups, got {len(distinct)}")
    n = min(folds, len(distinct))
    return [np.flatnonzero(np.isin(groups, distinct[i::n])) for i in range(n)]


def calibrate(model: MS2L, train: ClipSet, device: torch.device | str = "cpu", *, quantile: float = DEFAULT_QUANTILE,
              negatives: ClipSet | None = None, held_out: np.ndarray | None = None) -> dict[str, Any]:
    """Set ``model``'s prototypes from ``train`` and return the open-set metadata for its file.

    ``held_out``: :func:`heldout_scores` of every training clip under a fold model that did not
    train on it; when given (and not empty) the threshold is their ``quantile`` instead of that
    of the leave-one-out scores.

    Returns ``{"score", "threshold", "quantile", "calibration", "known_clips", "known_accepted",
    "loo_accepted", "negatives": {"clips", "rejected"}}`` (shares in %; ``known_accepted`` is of the
    clips the threshold was set on, ``loo_accepted`` of the training clips scored leave-one-out).
    """
    if model.classifier is None:
        raise ModelFileError("open-set calibration needs a classifier")
    if not 0.5 <= quantile < 1:
        raise ValueError(f"quantile must be in [0.5, 1), got {quantile}")
    z, y, sums, counts, protos = _prototypes(model, train, device)
    # Leave-one-out: each clip against its own class mean made without it (a class of one keeps its mean).
    own = torch.where(counts[y][:, None] > 1, (sums[y] - z) / (counts[y] - 1).clamp_min(1)[:, None], protos[y])
    d_all = torch.cdist(z, protos).pow(2) / z.shape[1]
    d_all[torch.arange(len(z)), y] = ((z - own) ** 2).mean(1)
    loo = d_all.min(1).values
    held = torch.as_tensor(np.asarray([] if held_out is None else held_out, np.float64))
    held = held[torch.isfinite(held)]
    cross_validated = len(held) > 0
    if cross_validated:
        threshold = float(torch.quantile(held, quantile))
    else:
        threshold = float(torch.quantile(loo, quantile)) if len(loo) else 1.0
    threshold = threshold if math.isfinite(threshold) and threshold > 0 else 1.0
    model.classifier.prototypes.copy_(protos.to(model.classifier.prototypes.device))
    model.classifier.threshold.fill_(threshold)

    def accepted(scores: torch.Tensor) -> float:
        return round(100.0 * float((scores <= threshold).double().mean()), 2)

    scored = held if cross_validated else loo          # the clips the threshold was set on
    meta: dict[str, Any] = {"score": SCORE, "threshold": threshold, "quantile": quantile,
                            "calibration": "cross-validated" if cross_validated else "leave-one-out",
                            "known_clips": int(len(scored)), "known_accepted": accepted(scored),
                            "loo_accepted": accepted(loo)}
    if negatives is not None and len(negatives):
        s = novelty_scores(standardised_features(model, negatives, device), protos)
        meta["negatives"] = {"clips": int(len(s)), "rejected": round(100.0 * float((s > threshold).float().mean()), 2)}
    return meta


def check_open_set(meta: dict[str, Any], path: object = "model") -> dict[str, Any] | None:
    """The validated ``open_set`` entry of a model file's metadata (None when the model has none)."""
    o = meta.get("open_set")
    if o is None:
        return None
    if not isinstance(o, dict) or o.get("score") != SCORE:
        raise ModelFileError(f"{path}: unknown open-set score {o.get('score') if isinstance(o, dict) else o!r}")
    t = o.get("threshold")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise ModelFileError(f"{path}: open-set threshold must be a positive number, got {t!r}")
    return o


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """Probability that an unknown clip scores higher than a known one (ties count half)."""
    known, unknown = np.asarray(known, float), np.asarray(unknown, float)
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    allv = np.concatenate([known, unknown])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    for v in np.unique(allv):  # average ranks of ties
        m = allv == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    r_unknown = ranks[len(known):].sum()
    return float((r_unknown - len(unknown) * (len(unknown) + 1) / 2) / (len(known) * len(unknown)))
