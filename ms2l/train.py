"""Training strategies: self-supervised pretraining, and the four ways to get a classifier.

* ``pretrain`` -- the MS²L tasks only, no labels.
* ``linear``   -- frozen encoder, train the classifier on its features.
* ``finetune`` -- start from a pretrained encoder, train everything.
* ``joint``    -- classification plus the MS²L tasks (optionally on extra unlabelled clips).
* ``scratch``  -- supervised baseline from a random encoder.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .augment import Augment
from .config import TaskConfig
from .datasets import ClipDataset, ClipSet, collate
from .model import MS2L, weighted_total

STRATEGIES = ("pretrain", "linear", "finetune", "joint", "scratch")

#: Per-strategy defaults (epochs etc.), chosen on the NW-UCLA training views; see README.
DEFAULTS: dict[str, dict[str, Any]] = {
    "pretrain": {"epochs": 40},
    "linear": {"epochs": 100},
    "finetune": {"epochs": 50},
    "joint": {"epochs": 50},
    "scratch": {"epochs": 50},
}


def default_recipe(strategy: str, **overrides: Any) -> "Recipe":
    """The recipe ``ms2l`` uses for ``strategy`` unless told otherwise (None values are ignored)."""
    if strategy not in DEFAULTS:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
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
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"   # cosine | constant
    grad_clip: float = 10.0
    augment: bool = True
    seed: int = 0
    tasks: TaskConfig = field(default_factory=TaskConfig)
    label_fraction: float = 1.0
    feature_copies: int = 5    # linear: augmented copies of each clip's features

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = self.tasks.to_dict()
        return d


class Cancelled(Exception):
    """Raised inside training when the caller's ``should_stop`` returns True."""


Progress = Callable[[dict[str, Any]], None]


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but PyTorch sees no CUDA GPU")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def _loader(clips: ClipSet, max_frames: int, recipe: Recipe, shuffle: bool = True, seed_offset: int = 0) -> DataLoader:
    aug = Augment() if recipe.augment else None
    ds = ClipDataset(clips, max_frames, aug, seed=recipe.seed + seed_offset)
    g = torch.Generator().manual_seed(recipe.seed + seed_offset)
    # BatchNorm needs two samples: drop a last batch of one.
    drop_last = len(ds) % recipe.batch_size == 1
    return DataLoader(ds, batch_size=min(recipe.batch_size, len(ds)), shuffle=shuffle, collate_fn=collate,
                      generator=g, drop_last=drop_last)


def _optimizer(params, recipe: Recipe, epochs: int):
    opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.schedule == "cosine":
        # Annealing makes the final epoch the one to keep: no test-set peeking for the best epoch.
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    if recipe.schedule != "constant":
        raise ValueError(f"unknown schedule {recipe.schedule!r}")
    return opt, None


def _epochs(n: int, desc: str, progress_bar: bool):
    if progress_bar:
        from tqdm import tqdm
        return tqdm(range(n), desc=desc, unit="epoch")
    return range(n)


def _step(loss: torch.Tensor, opt, params, clip: float) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def pretrain(
    model: MS2L,
    clips: ClipSet,
    recipe: Recipe,
    device: torch.device,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
) -> list[dict[str, float]]:
    """Self-supervised MS²L pretraining on ``clips`` (labels unused). Returns per-epoch history."""
    seed_everything(recipe.seed)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = _optimizer(params, recipe, recipe.epochs)
    loader = _loader(clips, model.config.window, recipe)
    history = []
    bar = _epochs(recipe.epochs, "pretrain", progress_bar)
    for epoch in bar:
        sums: dict[str, float] = {}
        n = 0
        t0 = time.perf_counter()
        for x, lengths, _ in loader:
            if should_stop and should_stop():
                raise Cancelled()
            x, lengths = x.to(device), lengths.to(device)
            losses = model.ssl_losses(x, lengths, recipe.tasks)
            loss = weighted_total(losses, recipe.tasks)
            _step(loss, opt, params, recipe.grad_clip)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(x)
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * len(x)
            n += len(x)
        if sched:
            sched.step()
        rec = {"epoch": epoch + 1, **{k: v / n for k, v in sums.items()}, "seconds": time.perf_counter() - t0,
               "samples_per_s": n / (time.perf_counter() - t0)}
        history.append(rec)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.3f}" for k, v in rec.items() if k in ("loss", "motion", "jigsaw", "contrastive")})
        if progress:
            progress(rec)
    model.eval()
    return history


@torch.no_grad()
def extract_features(model: MS2L, clips: ClipSet, device: torch.device, augment: Augment | None = None,
                     seed: int = 0, batch_size: int = 128, max_frames: int | None = None) -> torch.Tensor:
    """Pooled encoder features ``[N, F]`` of every clip (in order), optionally of augmented copies."""
    model.eval()
    ds = ClipDataset(clips, max_frames or 10**9, augment, seed=seed)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate)
    return torch.cat([model.features(x.to(device), l.to(device)).cpu() for x, l, _ in loader])


def _set_encoder_trainable(model: MS2L, trainable: bool) -> None:
    for p in model.encoder.parameters():
        p.requires_grad_(trainable)


def train_classifier(
    model: MS2L,
    train: ClipSet,
    recipe: Recipe,
    device: torch.device,
    unlabelled: ClipSet | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
    validation: ClipSet | None = None,
) -> list[dict[str, float]]:
    """Train ``model``'s classifier with ``recipe.strategy`` (linear / finetune / joint / scratch)."""
    seed_everything(recipe.seed)
    if model.classifier is None:
        raise ValueError("model config has no labels: set labels before training a classifier")
    if recipe.strategy == "linear":
        return _train_linear(model, train, recipe, device, progress, should_stop, progress_bar, validation)
    if recipe.strategy == "pretrain":
        raise ValueError("use pretrain() for the pretrain strategy")
    model.to(device).train()
    _set_encoder_trainable(model, True)
    joint = recipe.strategy == "joint"
    if joint and not model.has_ssl_heads:
        raise ValueError("joint training needs a model with self-supervised heads")
    params = [p for n, p in model.named_parameters() if joint or n.split(".")[0] in ("encoder", "classifier")]
    opt, sched = _optimizer(params, recipe, recipe.epochs)
    loader = _loader(train, model.config.window, recipe)
    extra = iter(())
    if joint and unlabelled is not None and len(unlabelled):
        extra_loader = _loader(unlabelled, model.config.window, recipe, seed_offset=1)
    else:
        extra_loader = None
    history = []
    bar = _epochs(recipe.epochs, recipe.strategy, progress_bar)
    for epoch in bar:
        model.train()
        t0 = time.perf_counter()
        tot = correct = n = 0
        sums: dict[str, float] = {}
        for x, lengths, y in loader:
            if should_stop and should_stop():
                raise Cancelled()
            x, lengths, y = x.to(device), lengths.to(device), y.to(device)
            f = model.features(x, lengths)
            logits = model.classifier(f)
            loss = F.cross_entropy(logits, y)
            if joint:
                if extra_loader is not None:
                    try:
                        xu, lu, _ = next(extra)
                    except StopIteration:
                        extra = iter(extra_loader)
                        xu, lu, _ = next(extra)
                    ssl = model.ssl_losses(xu.to(device), lu.to(device), recipe.tasks)
                else:
                    ssl = model.ssl_losses(x, lengths, recipe.tasks, original_features=f)
                loss = loss + weighted_total(ssl, recipe.tasks)
                for k, v in ssl.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(x)
            _step(loss, opt, params, recipe.grad_clip)
            tot += float(loss.detach()) * len(x)
            correct += int((logits.argmax(1) == y).sum())
            n += len(x)
        if sched:
            sched.step()
        rec = {"epoch": epoch + 1, "loss": tot / n, "train_acc": 100.0 * correct / n,
               **{k: v / n for k, v in sums.items()}, "seconds": time.perf_counter() - t0}
        if validation is not None:
            rec["val_acc"] = evaluate(model, validation, device)["top1"]
        history.append(rec)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['train_acc']:.1f}")
        if progress:
            progress(rec)
    model.eval()
    return history


def _train_linear(model, train, recipe, device, progress, should_stop, progress_bar, validation):
    """Frozen encoder: features of ``feature_copies`` augmented copies per clip, then the classifier."""
    _set_encoder_trainable(model, False)
    model.to(device)
    aug = Augment() if recipe.augment else None
    copies = max(1, recipe.feature_copies if aug else 1)
    feats = torch.cat([extract_features(model, train, device, aug, seed=recipe.seed + i, max_frames=model.config.window)
                       for i in range(copies)]).to(device)
    labels = torch.as_tensor(np.tile(train.labels, copies), device=device)
    val_feats = extract_features(model, validation, device).to(device) if validation is not None else None
    clf = model.classifier.to(device)
    opt, sched = _optimizer(clf.parameters(), recipe, recipe.epochs)
    g = torch.Generator().manual_seed(recipe.seed)
    bs = min(recipe.batch_size, len(feats))
    history = []
    bar = _epochs(recipe.epochs, "linear", progress_bar)
    for epoch in bar:
        clf.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(feats), generator=g).to(device)
        tot = correct = 0
        for i in range(0, len(order) - (1 if len(order) % bs == 1 else 0), bs):
            if should_stop and should_stop():
                raise Cancelled()
            idx = order[i:i + bs]
            logits = clf(feats[idx])
            loss = F.cross_entropy(logits, labels[idx])
            _step(loss, opt, list(clf.parameters()), recipe.grad_clip)
            tot += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == labels[idx]).sum())
        if sched:
            sched.step()
        rec = {"epoch": epoch + 1, "loss": tot / len(feats), "train_acc": 100.0 * correct / len(feats),
               "seconds": time.perf_counter() - t0}
        if val_feats is not None:
            clf.eval()
            with torch.no_grad():
                pred = clf(val_feats).argmax(1).cpu().numpy()
            rec["val_acc"] = 100.0 * float((pred == validation.labels).mean())
        history.append(rec)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['train_acc']:.1f}")
        if progress:
            progress(rec)
    model.eval()
    return history


@torch.no_grad()
def predict(model: MS2L, clips: ClipSet, device: torch.device, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``[N, num_classes]`` of whole clips, in order."""
    model.eval().to(device)
    loader = DataLoader(ClipDataset(clips, 10**9), batch_size=batch_size, shuffle=False, collate_fn=collate)
    return torch.cat([model(x.to(device), l.to(device)).softmax(-1).cpu() for x, l, _ in loader]).numpy()


def evaluate(model: MS2L, clips: ClipSet, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Top-1 %, count, per-class top-1 % and the confusion matrix (rows: truth)."""
    names = model.config.labels
    if tuple(clips.label_names) != tuple(names):
        raise ValueError(f"model labels {list(names)} do not match the data's labels {list(clips.label_names)}")
    pred = predict(model, clips, torch.device(device)).argmax(1)
    y = clips.labels
    k = len(names)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, pred), 1)
    per_class = {names[c]: (100.0 * cm[c, c] / cm[c].sum() if cm[c].sum() else None) for c in range(k)}
    return {"top1": 100.0 * float((pred == y).mean()) if len(y) else math.nan, "n": int(len(y)),
            "per_class": per_class, "confusion": cm.tolist()}
