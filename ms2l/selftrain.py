"""Self-training: the model labels the unlabelled clips it is surest of, then learns again from them.

With 1 % or 10 % of a training split labelled (the paper's semi-supervised rows), or k clips
per action and the rest of the split unlabelled, fine-tuning alone leaves most training clips
unused.  Each round here predicts the unlabelled clips with the last model, keeps the most
confident share of each predicted class (the share grows by round: a curriculum, so early
mistakes are few), and trains a fresh model -- from the same pretrained start -- on the
labelled clips and those pseudo-labelled ones.  The caller's ``fit`` decides how a model is
trained, so the app's plan and the CLI's recipe both use this loop unchanged.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import torch

from .data.clipset import ClipSet
from .errors import Cancelled
from .evaluate import predict
from .model import MS2L

#: Who labels the unlabelled clips: the model's top class, or label spreading over its features;
#: ``auto`` picks by how many labelled clips each action has (:func:`resolve_labeller`).
LABELLERS = ("auto", "model", "spread")
#: ``auto`` spreads below this many labelled clips per action: spreading gained 7.5 points of right pseudo
#: labels at 1 clip per action and nothing at 5 (benchmarks/results/pseudo_labels_*.md).
SPREAD_BELOW = 3.0
#: Weight of the model's probabilities beside the graph's labels in ``spread`` (benchmarks/pseudo_labels.py).
SPREAD_PRIOR = 0.3


def resolve_labeller(labeller: str, labelled: ClipSet) -> str:
    """``model`` or ``spread``: ``labeller`` itself, or for ``auto`` the one suited to ``labelled``'s size."""
    if labeller not in LABELLERS:
        raise ValueError(f"unknown labeller {labeller!r}; choose from {', '.join(LABELLERS)}")
    if labeller != "auto":
        return labeller
    classes = len(np.unique(np.asarray(labelled.labels, int))) or 1
    return "spread" if len(labelled) / classes < SPREAD_BELOW else "model"


def pseudo_proba(model: MS2L, labelled: ClipSet, unlabelled: ClipSet, device: torch.device | str = "cpu",
                 labeller: str = "model") -> np.ndarray:
    """``proba[N, K]`` for the ``unlabelled`` clips, from ``labeller`` (:data:`LABELLERS`).

    ``spread``: :func:`ms2l.propagation.spread` over the model's pooled features of the labelled
    and unlabelled clips together, seeded by the labelled clips' labels, the model's own
    probabilities as the unlabelled clips' prior.
    """
    labeller = resolve_labeller(labeller, labelled)
    device = torch.device(device)
    if labeller == "model" or len(unlabelled) == 0:
        return predict(model, unlabelled, device)
    from .propagation import spread
    from .train import extract_features

    f_u = extract_features(model, unlabelled, device)
    with torch.no_grad():  # the classifier on the same features: one encoder pass per clip, not two
        proba = model.classifier.eval()(f_u.to(device)).float().softmax(-1).cpu().numpy()
    feats = torch.cat([extract_features(model, labelled, device), f_u]).numpy()
    n_l = len(labelled)
    seeds = np.concatenate([np.asarray(labelled.labels, int), np.full(len(unlabelled), -1)])
    prior = np.concatenate([np.zeros((n_l, proba.shape[1])), proba])
    return spread(feats, seeds, proba.shape[1], prior=prior, prior_weight=SPREAD_PRIOR)[n_l:]


def select_confident(proba: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, pseudo labels)`` of the unlabelled clips to learn from, given ``proba[N, K]``.

    Per predicted class, its most confident clips, at most ``ceil(share * N / K)`` of them: a
    class the model predicts too often cannot flood the training set, and one it rarely
    predicts keeps all it has.  Indices come sorted.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(proba) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    n, k = proba.shape
    pred, conf = proba.argmax(1), proba.max(1)
    cap = max(1, math.ceil(share * n / k))
    keep = []
    for c in range(k):
        idx = np.flatnonzero(pred == c)
        keep.extend(idx[np.argsort(-conf[idx], kind="stable")][:cap])
    keep = np.sort(np.asarray(keep, dtype=int))
    return keep, pred[keep]


def merge(labelled: ClipSet, unlabelled: ClipSet, idx: np.ndarray, labels: np.ndarray) -> ClipSet:
    """The labelled clips followed by ``unlabelled[idx]`` carrying ``labels`` (meta is dropped)."""
    extra = unlabelled.subset(idx)
    names = (labelled.names + extra.names) if labelled.names and extra.names else []
    return ClipSet(labelled.clips + extra.clips,
                   np.concatenate([np.asarray(labelled.labels, int), np.asarray(labels, int)]),
                   labelled.label_names, names)


def self_train(
    fit: Callable[[ClipSet], MS2L],
    labelled: ClipSet,
    unlabelled: ClipSet,
    device: torch.device | str = "cpu",
    rounds: int = 2,
    truth: np.ndarray | None = None,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    labeller: str = "model",
) -> tuple[MS2L, list[dict]]:
    """Train with ``fit(labelled)``, then ``rounds`` rounds of pseudo-labelling; the last model and a log.

    Round ``r`` (1..rounds) keeps the ``r / rounds`` most confident share of each predicted
    class (:func:`select_confident`) of the pseudo labels ``labeller`` gives (:func:`pseudo_proba`).
    ``truth`` (the unlabelled clips' real labels, where a benchmark has them) is used only to
    report how many pseudo labels were right.  Each log entry: ``round``, ``clips`` trained on,
    ``pseudo`` (how many of them pseudo-labelled), ``labeller`` (rounds >= 1: ``model`` or
    ``spread``), ``pseudo_correct`` (%, with ``truth``), ``seconds``.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if len(labelled) == 0:
        raise ValueError("self-training needs at least one labelled clip")
    labeller = resolve_labeller(labeller, labelled)
    device = torch.device(device)
    log: list[dict] = []
    t0 = time.perf_counter()
    model = fit(labelled)
    log.append({"round": 0, "clips": len(labelled), "pseudo": 0, "seconds": time.perf_counter() - t0})
    if progress:
        progress(log[-1])
    for r in range(1, rounds + 1):
        if len(unlabelled) == 0:
            break
        if should_stop and should_stop():
            raise Cancelled()
        t0 = time.perf_counter()
        idx, pseudo = select_confident(pseudo_proba(model, labelled, unlabelled, device, labeller), r / rounds)
        train = merge(labelled, unlabelled, idx, pseudo)
        model = fit(train)
        rec = {"round": r, "clips": len(train), "pseudo": int(len(idx)), "labeller": labeller,
               "seconds": time.perf_counter() - t0}
        if truth is not None and len(idx):
            rec["pseudo_correct"] = 100.0 * float((np.asarray(truth)[idx] == pseudo).mean())
        log.append(rec)
        if progress:
            progress(rec)
    return model, log
