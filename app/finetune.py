"""Fine-tuning on the user's own clips (Qt-free): "Train" with nothing else chosen must just work.

A :class:`FinetuneSpec` says which labels and clips, which strategy and which
encoder; everything has a default chosen for a few clips per action on a
2-core CPU (:func:`training_plan`).  :func:`run_finetune` prepares the clips
from the library (through :meth:`app.library.Library.clipset`, i.e. the live
grid and :func:`ms2l.preprocess.prepare`), holds out a stratified validation
split, trains with :func:`ms2l.train.train_classifier` (progress callback,
cancellable with ``should_stop``), evaluates per-class accuracy and the
confusion matrix on the held-out clips, and saves the model with its card to
the user's model registry (``<user data dir>/ms2l-live/models``).

Strategies (all start from an encoder, by default the shipped model's):

* ``linear``   -- the encoder stays frozen; only the classifier learns (seconds).
* ``finetune`` -- a linear probe first, then every layer for a few epochs at a
  small learning rate, so the pretrained features are adjusted rather than
  overwritten by a handful of clips (the "LP-FT" order).
* ``joint``    -- as ``finetune``, with the MS²L tasks (motion prediction,
  jigsaw, contrastive) added to the second stage; they run on the library's
  unlabelled clips when there are any, else on the labelled ones.
"""
from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ms2l.errors import ConfigError

from .clips import Library, LibraryError

STRATEGIES = ("linear", "prototype", "finetune", "joint")
#: Below this many clips in its smallest action, Train learns from every clip: accuracy is
#: estimated by k-fold cross-validation (one clip per action held out per fold, up to
#: :data:`MAX_FOLDS` folds), then the final model is fitted on all clips.
FEW_CLIPS = 5
MAX_FOLDS = 5
#: With cross-validation, the rejection threshold comes from the clips each fold model held out
#: (:func:`ms2l.openset.heldout_scores`) rather than leave-one-out over the training clips;
#: chosen by ``benchmarks/openset_fewshot.py``.
CV_CALIBRATION = True
Progress = Callable[[dict[str, Any]], None]

#: Clip passes (epochs x clips) the fine-tuning stage gets; sized so that 5 clips of 10 actions
#: train in well under a minute on a 2-core CPU (benchmarks/fewshot.py).
FINETUNE_PASSES = 600
LINEAR_EPOCHS = 100
FINETUNE_LR = 3e-4
FINETUNE_BATCH = 16
#: Fine-tunes averaged into the model Train saves (:mod:`ms2l.soup`); see ``benchmarks/fewshot_recipe.py``.
SOUP = 1


@dataclass
class FinetuneSpec:
    """What to train.  Every field has a default, so ``FinetuneSpec()`` trains on the whole library.

    labels: the actions to learn, in this order (None: every label in the library with a clip).
    clip_ids: only these clips (None: all clips of those labels).
    strategy: ``linear``, ``finetune`` or ``joint`` (see the module docstring).
    encoder: model file whose encoder to start from, or ``default`` (the shipped model).
    epochs: epochs of the main stage (None: from the clip count, :func:`training_plan`).
    lr: learning rate of the main stage (None: the plan's).
    val_fraction: share of each action's clips held out for validation (0: none) -- used when every
        action has at least :data:`FEW_CLIPS` clips; with fewer, see ``cv``.
    cv: ``auto`` -- cross-validate (and train the final model on every clip) when the smallest
        action has fewer than :data:`FEW_CLIPS` clips; ``always``; ``never`` (hold out ``val_fraction``).
    use_unlabelled: ``joint`` runs the MS²L tasks on the library's unlabelled clips.
    name: file name in the registry (None: ``mine-<date>-<time>``).
    tasks: ``joint``: comma list of the MS²L tasks to add.
    soup: fine-tunes per fit (seeds ``seed``, ``seed + 100``, ...) averaged into one model
        (:mod:`ms2l.soup`; 1: a single fine-tune).  Only fine-tunes are averaged: the prototype
        and linear strategies keep the encoder frozen and always train one model.
    """

    labels: tuple[str, ...] | None = None
    clip_ids: tuple[int, ...] | None = None
    strategy: str = "finetune"
    encoder: str = "default"
    epochs: int | None = None
    lr: float | None = None
    val_fraction: float = 0.2
    seed: int = 0
    use_unlabelled: bool = True
    name: str | None = None
    device: str = "auto"
    tasks: str = "motion,jigsaw,contrastive"  # joint: the MS²L tasks added
    cv: str = "auto"
    soup: int = SOUP

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.cv not in ("auto", "always", "never"):
            raise ConfigError(f"cv must be auto, always or never, not {self.cv!r}")
        if isinstance(self.soup, bool) or not isinstance(self.soup, int) or not 1 <= self.soup <= 10:
            raise ConfigError(f"soup must be a whole number of models from 1 to 10, got {self.soup!r}")


@dataclass
class FinetuneResult:
    """What a finished job produced.

    validation: :func:`ms2l.evaluate.evaluate` on the held-out clips (``top1``, ``n``,
    ``per_class`` %, ``confusion`` ``[K, K]`` rows = truth), or None without a split.  After
    cross-validation it is the pooled result over every fold's held-out clips, with
    ``folds``, ``fold_top1`` and ``ci95`` (half-width of a 95 % interval, points) added.
    train: the same on the training clips.  history: one record per epoch, all stages.
    """

    model_path: Path
    card_path: Path
    labels: tuple[str, ...]
    strategy: str
    n_train: int
    n_val: int
    n_unlabelled: int
    train_seconds: float
    history: list[dict[str, Any]]
    validation: dict[str, Any] | None
    train: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.validation if self.validation is not None else self.train

    @property
    def reliability(self) -> str:
        """How far to trust the accuracy figure, in words (for the dialog and the card)."""
        return describe_estimate(self.validation, self.meta.get("data", {}).get("clips per label", {}))

    @property
    def rejection(self) -> str:
        """How the "none of these" threshold was set, in words (for the dialog)."""
        o = self.meta.get("open_set") or {}
        if not o:
            return "no rejection: the model always names one of its actions"
        if o.get("calibration") == "cross-validated":
            return (f"accepts {o.get('known_accepted', 0):.0f} % of the clips the cross-validation models never saw "
                    "(new clips of your actions); the rest of what it sees is \"none of these\"")
        return (f"accepts {o.get('known_accepted', 0):.0f} % of its training clips, each scored as if unseen "
                "(leave-one-out); the rest of what it sees is \"none of these\"")


def describe_estimate(val: dict[str, Any] | None, counts: dict[str, int]) -> str:
    """``"3 clips per action (cross-validated, 4 folds): 83 % ± 9"`` and the like."""
    few = min(counts.values()) if counts else 0
    per = f"{few} clip{'s' if few != 1 else ''} per action" if counts else "no clips"
    if val is None:
        return f"{per}: no estimate (record at least 2 clips of every action to get one)"
    how = f"cross-validated, {val['folds']} folds" if "folds" in val else f"{val['n']} held-out clips"
    ci = val.get("ci95", binomial_ci95(val["top1"], val["n"]))
    return f"{per} ({how}): {val['top1']:.0f} % ± {ci:.0f}"


def binomial_ci95(top1: float, n: int) -> float:
    """Half-width in points of the normal 95 % interval of an accuracy measured on ``n`` clips."""
    if n <= 0:
        return float("nan")
    p = min(max(top1 / 100.0, 0.0), 1.0)
    return 100.0 * 1.96 * math.sqrt(max(p * (1 - p), 0.25 / n) / n)


def cv_folds(labels: np.ndarray, seed: int, max_folds: int = MAX_FOLDS) -> list[np.ndarray]:
    """Held-out indices of each fold: every action's clips split over ``k = min(count, max_folds)`` folds.

    Each fold holds out about 1/k of every action's clips (at least one), so each clip is
    held out exactly once and every fold still trains on every action.
    """
    counts = np.bincount(labels)
    k = int(min(max_folds, counts[counts > 0].min()))
    if k < 2:
        return []
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for c in np.flatnonzero(counts):
        for i, part in enumerate(np.array_split(rng.permutation(np.flatnonzero(labels == c)), k)):
            folds[i].extend(int(j) for j in part)
    return [np.sort(np.array(f, int)) for f in folds]


def training_plan(strategy: str, n_train: int, *, epochs: int | None = None, lr: float | None = None,
                  seed: int = 0, tasks: Any = None, persons: int = 1) -> list[Any]:
    """The stages (:class:`ms2l.train.Recipe` list) that train ``n_train`` labelled clips.

    ``prototype``: class means of augmented features (no optimiser; :func:`ms2l.train.train_classifier`).
    ``linear``: one linear-probe stage (100 epochs over 5 augmented feature copies,
    cheap: the encoder runs once per copy).  ``finetune``/``joint``: that probe, then
    every layer at ``lr`` 3e-4 (cosine), batch 16, for about 600 clip passes
    (``epochs = 600 / n_train``, 5..60): few clips get more epochs, many get fewer,
    so the time stays near-constant.  Settings chosen on NW-UCLA view 1 -> view 2
    (never the test view), see ``benchmarks/fewshot.py``.  Two-person clips (``persons = 2``)
    also train with the ``swap`` view: a pair's order carries no role (SBU 5-fold 92.45 -> 93.55 %,
    ``benchmarks/results/sbu_swap.md``).
    """
    from ms2l.config import Recipe, TaskConfig

    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    views = ("swap",) if persons == 2 else ()
    if strategy == "prototype":
        return [Recipe(strategy="prototype", epochs=1, seed=seed, views=views)]
    probe_epochs = epochs if strategy == "linear" and epochs is not None else LINEAR_EPOCHS
    probe = Recipe(strategy="linear", epochs=probe_epochs, lr=1e-3, batch_size=64, seed=seed, views=views)
    if strategy == "linear":
        return [probe]
    n_ep = epochs if epochs is not None else int(min(60, max(5, round(FINETUNE_PASSES / max(1, n_train)))))
    main = Recipe(strategy=strategy, epochs=n_ep, lr=lr if lr is not None else FINETUNE_LR,
                  batch_size=FINETUNE_BATCH, seed=seed, tasks=tasks or TaskConfig(), views=views)
    return [probe, main]


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: about ``fraction`` of each class held out, seeded.

    A class with one clip stays wholly in training; a held-out class always keeps at least one clip to train on.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = 0 if fraction <= 0 or len(idx) < 2 else min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, int)), np.sort(np.array(val, int))


def predict_labels(model: Any, clips: Any, device: Any) -> np.ndarray:
    from ms2l.evaluate import predict

    return predict(model, clips, device).argmax(1)


def build_model(encoder: str | Path, labels: Sequence[str], strategy: str,
                persons: int | None = None) -> tuple[Any, dict[str, Any], Any]:
    """A fresh MS2L classifier for ``labels`` carrying ``encoder``'s encoder weights.

    Returns ``(model, encoder metadata, config)``; the config (frame rate, window,
    normalisation, joint layout) is the encoder's, so the new model reads input as it did.
    ``persons``: people per clip (default the encoder's); a one-person encoder then runs on
    each person of a pair (:func:`ms2l.encoders.for_persons`).
    """
    import torch

    from ms2l.checkpoint import load_model
    from ms2l.encoders import for_persons
    from ms2l.model import MS2L

    enc, meta = load_model(encoder)
    try:
        base = for_persons(enc.config, persons) if persons is not None else enc.config
    except ConfigError as e:
        raise LibraryError(f"{encoder}: {e}") from None
    config = base.replace(labels=tuple(labels))
    torch.manual_seed(0)
    model = MS2L(config, with_ssl_heads=strategy == "joint")
    weights = {k: v for k, v in enc.state_dict().items() if k.startswith("encoder.")}
    missing = [k for k in model.state_dict() if k.startswith("encoder.") and k not in weights]
    if missing:
        raise LibraryError(f"{encoder} has no complete encoder (missing {missing[:2]})")
    model.load_state_dict(weights, strict=False)
    return model, meta, config


def _safe_name(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-")
    return name[:80] or "model"


def unique_model_path(models_dir: Path, name: str | None) -> Path:
    """``models_dir/<name>.safetensors`` that does not exist yet (``-2``, ``-3``... appended)."""
    base = _safe_name(name or time.strftime("mine-%Y%m%d-%H%M%S"))
    path = models_dir / f"{base}.safetensors"
    n = 2
    while path.exists():
        path = models_dir / f"{base}-{n}.safetensors"
        n += 1
    return path


def models_dir() -> Path:
    """The user's model registry (``MS2L_USER_MODELS`` overrides)."""
    from .paths import user_models_dir

    return user_models_dir()


def run_finetune(spec: FinetuneSpec, library: Library | str | Path | None = None, *,
                 out: str | Path | None = None, registry: str | Path | None = None,
                 progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> FinetuneResult:
    """Train a model on library clips as ``spec`` says and save it; see the module docstring.

    ``out``: the model file to write (default: a new file in ``registry``, itself
    defaulting to the user's model registry).  ``progress(event)`` receives dicts with
    ``phase`` (``prepare``, ``train``, ``evaluate``, ``save``, ``done``), a ``message``
    and, while training, ``epoch``/``epochs`` (over all stages), ``stage``, ``loss``,
    ``train_acc`` and ``val_acc`` (%) and ``fraction`` (0..1).  ``should_stop()``
    returning True raises :class:`ms2l.errors.Cancelled` (nothing is saved).
    """
    import torch

    from ms2l.checkpoint import encoder_record, save_bundle
    from ms2l.device import resolve_device
    from ms2l.errors import Cancelled
    from ms2l.evaluate import evaluate
    from ms2l.train import train_classifier

    def tell(**ev: Any) -> None:
        if progress is not None:
            progress(ev)

    def check() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled()

    own = not isinstance(library, Library)
    lib = Library(library, create=False) if own else library
    try:
        tell(phase="prepare", message="Loading the encoder…", fraction=0.0)
        counts = lib.labels()
        labels = tuple(spec.labels) if spec.labels is not None else tuple(counts)
        unknown = [lab for lab in labels if lab not in counts]
        if unknown:
            raise LibraryError(f"no clips labelled {', '.join(map(repr, unknown))} in the library at {lib.root}")
        if len(labels) < 2:
            raise LibraryError("a recogniser needs at least two actions: record or import clips of another action"
                               + (f" (the library has only {labels[0]!r})" if labels else ""))
        device = resolve_device(spec.device)
        # Two-person clips (a pair recorded or imported) make a two-person model.
        chosen = [i for i in lib.list(ids=spec.clip_ids) if i.label in labels]
        persons = max((i.persons for i in chosen), default=1)
        model, enc_meta, config = build_model(spec.encoder, labels, spec.strategy, persons)
        check()
        tell(phase="prepare", message="Preparing the clips…", fraction=0.0)
        clips = lib.clipset(config, labels, ids=spec.clip_ids)
        missing = [labels[c] for c in range(len(labels)) if not (clips.labels == c).any()]
        if missing:
            raise LibraryError(f"no usable clip (with a person in it) for {', '.join(map(repr, missing))}")
        unlabelled = None
        if spec.strategy == "joint" and spec.use_unlabelled:
            unlabelled = lib.clipset(config, labels, unlabelled=True)
            unlabelled = unlabelled if len(unlabelled) else None
        counts = np.bincount(clips.labels, minlength=len(labels))
        use_cv = spec.cv == "always" or (spec.cv == "auto" and counts.min() < FEW_CLIPS)
        from ms2l.config import TaskConfig

        tasks = TaskConfig.from_names(spec.tasks)
        history: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        folds = cv_folds(clips.labels, spec.seed) if use_cv else []
        n_fits = len(folds) + 1
        if use_cv:
            tr_idx, va_idx = np.arange(len(clips)), np.zeros(0, int)
        else:
            tr_idx, va_idx = stratified_split(clips.labels, spec.val_fraction, spec.seed)
        train, val = clips.subset(tr_idx), (clips.subset(va_idx) if len(va_idx) else None)
        done_fits = 0

        from ms2l.soup import average_into, member_seeds

        members = spec.soup if spec.strategy in ("finetune", "joint") else 1

        def fit(model_k: Any, train_k: Any, val_k: Any, what: str) -> list[Any]:
            """Train ``model_k`` with the app's plan for ``train_k`` (``members`` fine-tunes averaged into it);
            returns the plan (its recipes)."""
            nonlocal done_fits
            soup = [model_k] + [build_model(spec.encoder, labels, spec.strategy, persons)[0] for _ in range(members - 1)]
            plans = [training_plan(spec.strategy, len(train_k), epochs=spec.epochs, lr=spec.lr, seed=s,
                                   tasks=tasks, persons=persons) for s in member_seeds(spec.seed, members)]
            total = sum(r.epochs for plan_m in plans for r in plan_m)
            done = 0
            for m, (member, plan_m) in enumerate(zip(soup, plans)):
                name = what if members == 1 else f"{what}, model {m + 1}/{members}"
                for recipe in plan_m:
                    stage = recipe.strategy

                    def on_epoch(rec: dict[str, Any], stage: str = stage, name: str = name) -> None:
                        row = {**rec, "stage": stage, "epoch": done + rec["epoch"], "epochs": total, "fit": name}
                        history.append(row)
                        frac = (done_fits + row["epoch"] / total) / n_fits
                        tell(phase="train", message=f"{name}: training ({stage}) epoch {row['epoch']}/{total}",
                             fraction=frac, **{k: v for k, v in row.items() if k != "seconds"})

                    train_classifier(member, train_k, recipe, device,
                                     unlabelled=unlabelled if stage == "joint" else None, progress=on_epoch,
                                     should_stop=should_stop, progress_bar=False, validation=val_k)
                    done += recipe.epochs
            if members > 1:
                average_into(soup)
            done_fits += 1
            return plans[0]

        from ms2l.openset import calibrate, heldout_scores

        cv_result = None
        # Each clip's novelty under the fold model that never trained on it: the rejection threshold
        # is set from these (a new clip of a known action), not from clips the model has seen.
        held_novelty = np.full(len(clips), np.nan)
        if folds:
            pred_all = np.zeros(len(clips), int)
            fold_top1 = []
            for i, held in enumerate(folds):
                check()
                keep = np.setdiff1d(np.arange(len(clips)), held)
                model_k, _, _ = build_model(spec.encoder, labels, spec.strategy, persons)
                fit(model_k, clips.subset(keep), clips.subset(held), f"fold {i + 1}/{len(folds)}")
                pred_all[held] = predict_labels(model_k, clips.subset(held), device)
                if CV_CALIBRATION:
                    held_novelty[held] = heldout_scores(model_k, clips.subset(keep), clips.subset(held), device)
                fold_top1.append(100.0 * float((pred_all[held] == clips.labels[held]).mean()))
            from ms2l.evaluate import score

            cv_result = score(clips.labels, pred_all, labels)
            cv_result |= {"folds": len(folds), "fold_top1": fold_top1,
                          "ci95": binomial_ci95(cv_result["top1"], cv_result["n"])}
        check()
        plan = fit(model, train, val, "final model" if folds else "training")
        wall = time.perf_counter() - t0
        tell(phase="evaluate", message="Evaluating…", fraction=1.0)
        result_val = cv_result if cv_result is not None else (evaluate(model, val, device) if val is not None else None)
        result_train = evaluate(model, train, device)
        open_set = calibrate(model, train, device, held_out=held_novelty)   # all NaN without CV: leave-one-out
        from ms2l.preprocess import live_window

        live = live_window([len(x) for x in train.clips], config.window)  # train what you serve
        check()

        reg = Path(registry) if registry is not None else models_dir()
        path = Path(out) if out is not None else unique_model_path(reg, spec.name)
        if path.suffix != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
        tell(phase="save", message=f"Saving {path.name}…", fraction=1.0)
        metrics = {("cross_validation" if cv_result is not None else "validation"): result_val} \
            if result_val is not None else {}
        metrics["train"] = result_train
        info = {
            "kind": "classifier",
            "description": (f"Fine-tuned ({spec.strategy}) on {len(train)} clips of your own library "
                            f"({', '.join(labels)})."),
            "recipe": {"stages": [r.to_dict() for r in plan], "strategy": spec.strategy,
                       **({"soup": {"models": members, "seeds": member_seeds(spec.seed, members)}}
                          if members > 1 else {})},
            "data": {"source": "clip library", "library": str(lib.root), "train clips": len(train),
                     "validation clips": 0 if val is None else len(val),
                     "accuracy estimate": ("cross-validation, every clip held out once, final model on all clips"
                                           if cv_result is not None else
                                           "held-out clips" if val is not None else "none"),
                     "unlabelled clips": 0 if unlabelled is None else len(unlabelled),
                     "clips per label": {lab: int((clips.labels == c).sum()) for c, lab in enumerate(labels)}},
            "clip_ids": {"train": [int(i) for i in train.meta["id"]],
                         "validation": [] if val is None else [int(i) for i in val.meta["id"]]},
            "encoder": encoder_record(spec.encoder, enc_meta),
            "metrics": metrics, "train_seconds": wall, "spec": asdict(spec),
            "open_set": open_set, "live": live,
        }
        info["estimate"] = describe_estimate(result_val, info["data"]["clips per label"])
        path = save_bundle(model, path, info)
        card = path.with_suffix(".md")
        tell(phase="done", message=f"Saved {path.name}", fraction=1.0)
        return FinetuneResult(path, card, labels, spec.strategy, len(train),
                              (0 if val is None else len(val)) if cv_result is None else 0,
                              0 if unlabelled is None else len(unlabelled), wall, history, result_val, result_train,
                              info)
    finally:
        if own:
            lib.close()


class FinetuneJob:
    """A fine-tuning run that another thread can cancel (Qt-free; the UI runs :meth:`run` on a worker).

    ``job = FinetuneJob(spec, library_dir)``; ``job.run(progress)`` trains and returns a
    :class:`FinetuneResult` (raising ``ms2l.train.Cancelled`` once :meth:`cancel` was
    called); the library is opened on the thread that runs it.
    """

    def __init__(self, spec: FinetuneSpec | None = None, library: str | Path | None = None, *,
                 registry: str | Path | None = None, out: str | Path | None = None) -> None:
        self.spec = spec or FinetuneSpec()
        self.library = library
        self.registry = registry
        self.out = out
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, progress: Progress | None = None) -> FinetuneResult:
        return run_finetune(self.spec, self.library, out=self.out, registry=self.registry, progress=progress,
                            should_stop=self._cancel.is_set)


def format_confusion(result: dict[str, Any]) -> str:
    """A plain-text per-class accuracy and confusion table (rows: truth, columns: prediction)."""
    names = list(result["per_class"])
    cm = np.asarray(result["confusion"], int)
    w = max(6, *(len(n) for n in names))
    lines = [f"top-1 {result['top1']:.1f} % on {result['n']} clips", ""]
    lines.append(" " * (w + 9) + " ".join(f"{i:>4d}" for i in range(len(names))))
    for i, n in enumerate(names):
        acc = result["per_class"][n]
        a = "   -" if acc is None or (isinstance(acc, float) and math.isnan(acc)) else f"{acc:5.1f}"
        lines.append(f"{i:>2d} {n:<{w}} {a} " + " ".join(f"{v:>4d}" for v in cm[i]))
    return "\n".join(lines)
