"""Training strategies: self-supervised pretraining, and the four ways to get a classifier.

* ``pretrain`` -- the MS²L tasks only, no labels.
* ``linear``   -- frozen encoder, train the classifier on its features.
* ``finetune`` -- start from a pretrained encoder, train everything.
* ``joint``    -- classification plus the MS²L tasks (optionally on extra unlabelled clips).
* ``scratch``  -- supervised baseline from a random encoder.

Under ``torchrun`` the same calls train with DistributedDataParallel: each rank
takes ``batch_size / world_size`` clips of every global batch (DistributedSampler),
rank 0 logs and writes checkpoints, and a run restarted with ``resume=True``
continues from the last completed epoch.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from . import distributed
from .augment import Augment
from .config import DEFAULTS, STRATEGIES, Recipe, TaskConfig, default_recipe
from .data.clipset import ClipDataset, ClipSet, collate, collate_pairs
from .device import resolve_device
from .evaluate import evaluate, predict
from .errors import Cancelled, ConfigError
from .model import MS2L, weighted_total
from .tasks import PERMUTATIONS

CHECKPOINT = "checkpoint.pt"


Progress = Callable[[dict[str, Any]], None]


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


_BF16_OK: dict[str, bool] = {}


def _bf16_gru_works(device: torch.device) -> bool:
    """Whether a packed bidirectional GRU trains under bf16 autocast here (cuDNN gained bf16 RNNs
    only in 9.13): probed once per device, so ``auto`` falls back to fp32 instead of failing."""
    key = str(device)
    if key not in _BF16_OK:
        try:
            from .encoders import GRUEncoder
            enc = GRUEncoder(6, 8, 2).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = enc(torch.randn(2, 5, 6, device=device), torch.tensor([5, 3], device=device))
            out.float().sum().backward()
            _BF16_OK[key] = True
        except RuntimeError:
            _BF16_OK[key] = False
    return _BF16_OK[key]


def _autocast(recipe: Recipe, device: torch.device):
    if device.type != "cuda" or recipe.precision == "fp32":
        return contextlib.nullcontext()
    if recipe.precision == "auto" and not (torch.cuda.is_bf16_supported() and _bf16_gru_works(device)):
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16)


def _loader(clips: ClipSet, max_frames: int, recipe: Recipe, seed_offset: int = 0) -> DataLoader:
    """Seeded shuffling through DistributedSampler (also with one process, so a run's
    global batches are the same whatever the number of processes)."""
    info = distributed.current()
    pairs = _pairs(recipe)
    ds = ClipDataset(clips, max_frames, Augment.with_views(recipe.views) if recipe.augment else None,
                     seed=recipe.seed + seed_offset, pairs=pairs)
    # drop_last: ranks share out whole clips (at most world_size - 1 left out per epoch)
    # rather than repeating some to pad, which would weigh them twice.
    sampler = DistributedSampler(ds, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=recipe.seed + seed_offset, drop_last=info.enabled)
    per_rank = max(1, math.ceil(min(recipe.batch_size, len(ds)) / info.world_size))
    # BatchNorm needs two samples: drop a last batch of one.
    drop_last = len(sampler) % per_rank == 1
    return DataLoader(ds, batch_size=per_rank, sampler=sampler, collate_fn=collate_pairs if pairs else collate,
                      drop_last=drop_last,
                      num_workers=recipe.workers, persistent_workers=recipe.workers > 0)


def _pairs(recipe: Recipe) -> bool:
    """Whether pretraining batches carry two augmentations of each clip (``TaskConfig.pair_views``)."""
    return recipe.strategy == "pretrain" and recipe.tasks.contrastive and recipe.tasks.pair_views


def _set_epoch(loader: DataLoader, epoch: int) -> None:
    loader.sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)


def _optimizer(params, recipe: Recipe, epochs: int):
    opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.schedule == "cosine":
        # Annealing makes the final epoch the one to keep: no test-set peeking for the best epoch.
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    if recipe.schedule != "constant":
        raise ConfigError(f"unknown schedule {recipe.schedule!r}")
    return opt, None


def _bar(n: int, start: int, desc: str, show: bool):
    if show and distributed.current().is_main:
        from tqdm import tqdm
        return tqdm(range(start, n), desc=desc, unit="epoch", initial=start, total=n)
    return range(start, n)


def _jigsaw_perms(local_batch: int, seed: tuple[int, ...]) -> torch.Tensor:
    """This rank's jigsaw permutations, drawn for the whole global batch from ``seed``.

    DistributedSampler deals a global batch out round-robin, so rank r holds its
    items r, r+W, ...; taking the same slice of the global draw makes every clip
    get the same permutation whatever the number of processes.
    """
    info = distributed.current()
    g = torch.Generator().manual_seed(hash(seed) % (2**62))
    draw = torch.randint(len(PERMUTATIONS), (local_batch * info.world_size,), generator=g)
    return draw[info.rank::info.world_size]


class _SSLStep(nn.Module):
    """One pretraining step as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: MS2L, tasks: TaskConfig, pairs: bool = False):
        super().__init__()
        self.model, self.tasks, self.pairs = model, tasks, pairs
        self.step_seed: tuple[int, ...] = (0,)

    def forward(self, x, lengths, y):
        second = None
        if self.pairs:  # collate_pairs: [first views; second views]
            B = len(y)
            x, lengths, second = x[:B], lengths[:B], (x[B:], lengths[B:])
        perm = _jigsaw_perms(len(x), self.step_seed)
        losses = self.model.ssl_losses(x, lengths, self.tasks, perm=perm, second=second)
        return weighted_total(losses, self.tasks), losses


def outlier_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits[B, K]`` against the uniform distribution: motion that is none of the
    classes should favour none of them (Hendrycks et al., "Deep anomaly detection with outlier exposure")."""
    return -F.log_softmax(logits.float(), dim=-1).mean(-1).mean()


class _ClassifyStep(nn.Module):
    """Cross-entropy, plus the MS²L tasks for ``joint`` (on ``extra`` unlabelled batches if given),
    plus ``outlier_weight`` x :func:`outlier_loss` on ``outliers`` batches (other motion) if given."""

    def __init__(self, model: MS2L, tasks: TaskConfig | None, extra: Iterator | None = None,
                 outliers: Iterator | None = None, outlier_weight: float = 0.0):
        super().__init__()
        self.model, self.tasks, self.extra = model, tasks, extra
        self.outliers, self.outlier_weight = outliers, outlier_weight
        self.step_seed: tuple[int, ...] = (0,)

    def forward(self, x, lengths, y):
        f = self.model.features(x, lengths)
        logits = self.model.classifier(f)
        loss = F.cross_entropy(logits, y)
        stats = {"correct": (logits.argmax(1) == y).sum().float()}
        if self.outliers is not None:
            xo, lo, _ = next(self.outliers)
            clf = self.model.classifier
            clf.norm.eval()  # standardise with the known clips' statistics; other motion must not move them
            try:
                out = outlier_loss(clf(self.model.features(xo.to(x.device), lo.to(x.device))))
            finally:
                clf.norm.train(self.model.training)
            loss = loss + self.outlier_weight * out
            stats["outlier"] = out
        if self.tasks is not None:
            if self.extra is not None:
                xu, lu, _ = next(self.extra)
                ssl = self.model.ssl_losses(xu.to(x.device), lu.to(x.device), self.tasks,
                                            perm=_jigsaw_perms(len(xu), self.step_seed))
            else:
                ssl = self.model.ssl_losses(x, lengths, self.tasks, original_features=f,
                                            perm=_jigsaw_perms(len(x), self.step_seed))
            loss = loss + weighted_total(ssl, self.tasks)
            stats.update(ssl)
        return loss, stats


def _cycle(loader: DataLoader) -> Iterator:
    epoch = 0
    while True:
        _set_epoch(loader, epoch)
        yield from loader
        epoch += 1


def _save_checkpoint(path: Path, model: nn.Module, opt, sched, epoch: int, history: list, recipe: Recipe) -> None:
    """Rank 0 writes the training state atomically (plain tensors and numbers: loadable with weights_only)."""
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict() if sched else None, "epoch": epoch, "history": history,
             "strategy": recipe.strategy}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, model: nn.Module, opt, sched, recipe: Recipe) -> tuple[int, list]:
    """Restore a run from ``path``; anything but a checkpoint we wrote raises ModelFileError.

    ``weights_only=True``: only tensors and plain containers are unpickled, so a crafted file
    cannot run code (torch's own message would suggest ``weights_only=False``: never do that).
    """
    import pickle

    from .errors import ModelFileError

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        why = ("it holds Python objects, not just tensors: loading it could run code" if isinstance(e, pickle.UnpicklingError)
               else f"unreadable: {str(e).splitlines()[0][:200]}")
        raise ModelFileError(f"{path} is not a usable training checkpoint ({why}); delete it, or run without --resume") \
            from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path} is not a training checkpoint written by ms2l")
    if state.get("strategy") != recipe.strategy:
        raise ConfigError(f"{path} is a {state.get('strategy')} checkpoint, not {recipe.strategy}")
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched and state["scheduler"]:
            sched.load_state_dict(state["scheduler"])
        return int(state["epoch"]), list(state["history"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"{path} does not fit this run ({str(e).splitlines()[0][:200]}); "
                             "delete it, or run without --resume") from None


def _fit(
    model: MS2L, step: nn.Module, params: list, loader: DataLoader, recipe: Recipe, device: torch.device,
    desc: str, progress: Progress | None, should_stop: Callable[[], bool] | None, progress_bar: bool,
    checkpoint_dir: Path | None, resume: bool, after_epoch: Callable[[dict], None] | None = None,
) -> list[dict[str, float]]:
    """The one training loop: epochs of steps, global statistics, checkpoints, resume."""
    info = distributed.current()
    model.to(device).train()
    opt, sched = _optimizer(params, recipe, recipe.epochs)
    start, history = 0, []
    ckpt = Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir is not None else None
    if resume and ckpt is not None and ckpt.exists():
        start, history = _load_checkpoint(ckpt, model, opt, sched, recipe)
    if info.enabled:
        # Only full pretraining is sure to touch every parameter in every step.
        unused = recipe.strategy != "pretrain" or len(recipe.tasks.enabled) < 3
        runner = DistributedDataParallel(step, device_ids=[device.index] if device.type == "cuda" else None,
                                         find_unused_parameters=unused)
    else:
        runner = step
    bar = _bar(recipe.epochs, start, desc, progress_bar)
    for epoch in bar:
        model.train()
        _set_epoch(loader, epoch)
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        for i, (x, lengths, y) in enumerate(loader):
            if should_stop and should_stop():
                raise Cancelled()
            step.step_seed = (recipe.seed, epoch, i)
            x, lengths, y = x.to(device, non_blocking=True), lengths.to(device), y.to(device)
            with _autocast(recipe, device):
                loss, stats = runner(x, lengths, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, recipe.grad_clip)
            opt.step()
            n = len(y)  # clips (a pair-view batch holds two views of each)
            sums["n"] = sums.get("n", 0.0) + n
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * n
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * (1 if k == "correct" else n)
        if sched:
            sched.step()
        sums = distributed.all_reduce_sum(sums)  # statistics of the global batch, on every rank
        n = max(sums.pop("n", 0.0), 1.0)
        seconds = time.perf_counter() - t0
        rec: dict[str, float] = {"epoch": epoch + 1}
        for k, v in sums.items():
            rec["train_acc" if k == "correct" else k] = 100.0 * v / n if k == "correct" else v / n
        rec |= {"seconds": seconds, "samples_per_s": n / seconds}
        if after_epoch:
            after_epoch(rec)
        history.append(rec)
        if hasattr(bar, "set_postfix"):
            keys = ("loss", "train_acc", "val_acc", "motion", "jigsaw", "contrastive")
            bar.set_postfix({k: f"{rec[k]:.3f}" for k in keys if k in rec})
        if progress:
            progress(rec)
        if ckpt is not None and info.is_main:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            _save_checkpoint(ckpt, model, opt, sched, epoch + 1, history, recipe)
    model.eval()
    return history


def pretrain(
    model: MS2L,
    clips: ClipSet,
    recipe: Recipe,
    device: torch.device,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_bar: bool = True,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
) -> list[dict[str, float]]:
    """Self-supervised MS²L pretraining on ``clips`` (labels unused). Returns per-epoch history."""
    seed_everything(recipe.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    loader = _loader(clips, model.config.window, recipe)
    step = _SSLStep(model, recipe.tasks, _pairs(recipe))
    return _fit(model, step, params, loader, recipe, device, "pretrain", progress,
                should_stop, progress_bar, checkpoint_dir, resume)


@torch.no_grad()
def extract_features(model: MS2L, clips: ClipSet, device: torch.device, augment: Augment | None = None,
                     seed: int = 0, batch_size: int = 128, max_frames: int | None = None) -> torch.Tensor:
    """Pooled encoder features ``[N, F]`` of every clip (in order), optionally of augmented copies."""
    model.eval().to(device)
    ds = ClipDataset(clips, max_frames or 10**9, augment, seed=seed)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate)
    return torch.cat([model.features(x.to(device), l.to(device)).float().cpu() for x, l, _ in loader])


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
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    outliers: ClipSet | None = None,
) -> list[dict[str, float]]:
    """Train ``model``'s classifier with ``recipe.strategy`` (linear / finetune / joint / scratch).

    ``outliers``: unlabelled other motion; with ``recipe.outlier_weight > 0`` the stages that train
    the encoder (finetune / joint / scratch) also learn to favour no class on it."""
    seed_everything(recipe.seed)
    if model.classifier is None:
        raise ValueError("model config has no labels: set labels before training a classifier")
    if recipe.strategy == "linear":
        return _train_linear(model, train, recipe, device, progress, should_stop, progress_bar, validation)
    if recipe.strategy == "prototype":
        return _fit_prototypes(model, train, recipe, device, progress, should_stop, validation)
    if recipe.strategy == "pretrain":
        raise ValueError("use pretrain() for the pretrain strategy")
    _set_encoder_trainable(model, True)
    joint = recipe.strategy == "joint"
    if joint and not model.has_ssl_heads:
        raise ValueError("joint training needs a model with self-supervised heads")
    params = [p for n, p in model.named_parameters() if joint or n.split(".")[0] in ("encoder", "classifier")]
    loader = _loader(train, model.config.window, recipe)
    extra = None
    if joint and unlabelled is not None and len(unlabelled):
        extra = _cycle(_loader(unlabelled, model.config.window, recipe, seed_offset=1))
    other = None
    if outliers is not None and len(outliers) and recipe.outlier_weight > 0:
        other = _cycle(_loader(outliers, model.config.window, dataclasses.replace(recipe, views=()), seed_offset=2))
    step = _ClassifyStep(model, recipe.tasks if joint else None, extra, other, recipe.outlier_weight)

    def validate(rec: dict) -> None:
        if validation is not None:
            rec["val_acc"] = evaluate(model, validation, device)["top1"]

    return _fit(model, step, params, loader, recipe, device, recipe.strategy, progress, should_stop,
                progress_bar, checkpoint_dir, resume, after_epoch=validate)


def _fit_prototypes(model, train, recipe, device, progress, should_stop, validation):
    """Frozen encoder, nearest class mean: the classifier becomes a prototype head, no optimiser.

    On standardised features ``z`` (the classifier's own normalisation, fitted here),
    ``-|z - mu_c|^2 = 2 mu_c.z - |mu_c|^2 - |z|^2`` and the last term is the same for
    every class, so the nearest-mean rule *is* the linear layer ``W_c = 2 mu_c / tau``,
    ``b_c = -|mu_c|^2 / tau`` -- the model file stays an ordinary classifier.  ``tau`` (the
    mean squared distance of a clip to its own class mean) sets how sharp the softmax is.
    Class means average ``feature_copies`` augmented copies of every clip.
    """
    t0 = time.perf_counter()
    _set_encoder_trainable(model, False)
    model.to(device)
    aug = Augment.with_views(recipe.views) if recipe.augment else None
    copies = max(1, recipe.feature_copies if aug else 1)
    feats = torch.cat([extract_features(model, train, device, aug if i else None, seed=recipe.seed + i,
                                        max_frames=model.config.window) for i in range(copies)]).to(device).float()
    if should_stop and should_stop():
        raise Cancelled()
    labels = torch.as_tensor(np.tile(train.labels, copies), device=device)
    clf = model.classifier.to(device)
    norm = clf.norm
    mean, var = feats.mean(0), feats.var(0, unbiased=False)
    with torch.no_grad():
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        z = (feats - mean) / torch.sqrt(var + norm.eps)
        K = clf.fc.out_features
        mu = torch.stack([z[labels == c].mean(0) if bool((labels == c).any()) else torch.zeros_like(z[0])
                          for c in range(K)])
        tau = float(((z - mu[labels]) ** 2).sum(1).mean().clamp_min(1e-6))
        if clf.head == "cosine":  # the nearest prototype by cosine: the weights are the means themselves
            clf.fc.weight.copy_(mu)
            clf.fc.bias.zero_()
        else:
            clf.fc.weight.copy_(2 * mu / tau)
            clf.fc.bias.copy_(-(mu ** 2).sum(1) / tau)
    model.eval()
    with torch.no_grad():
        train_acc = 100.0 * float((clf(feats).argmax(1) == labels).float().mean())
    rec = {"epoch": 1, "loss": 0.0, "train_acc": train_acc, "tau": tau, "seconds": time.perf_counter() - t0}
    if validation is not None:
        rec["val_acc"] = evaluate(model, validation, device)["top1"]
    if progress:
        progress(rec)
    return [rec]


def _train_linear(model, train, recipe, device, progress, should_stop, progress_bar, validation):
    """Frozen encoder: features of ``feature_copies`` augmented copies per clip, then the classifier.

    Cheap enough that every rank of a distributed run does it whole (only rank 0 saves)."""
    _set_encoder_trainable(model, False)
    model.to(device)
    aug = Augment.with_views(recipe.views) if recipe.augment else None
    copies = max(1, recipe.feature_copies if aug else 1)
    feats = torch.cat([extract_features(model, train, device, aug, seed=recipe.seed + i, max_frames=model.config.window)
                       for i in range(copies)]).to(device)
    labels = torch.as_tensor(np.tile(train.labels, copies), device=device)
    val_feats = extract_features(model, validation, device).to(device) if validation is not None else None
    clf = model.classifier.to(device)
    params = list(clf.parameters())
    opt, sched = _optimizer(params, recipe, recipe.epochs)
    g = torch.Generator().manual_seed(recipe.seed)
    bs = min(recipe.batch_size, len(feats))
    history = []
    bar = _bar(recipe.epochs, 0, "linear", progress_bar)
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
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, recipe.grad_clip)
            opt.step()
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
