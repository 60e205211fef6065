"""Open-set benchmark: does a model say "none of these" for actions it was never taught?

Leave-classes-out on NW-UCLA (train views 1+2, test view 3) and UTD-MHAD (cross-subject):
the actions are dealt into ``--folds`` groups (seeded); in each fold one group is
*unknown* -- left out of training -- and a model is trained on the rest with the
app's own plan (``app.finetune.training_plan``, ``--strategy``) and calibrated
(:func:`ms2l.openset.calibrate`, as every trained model is).  On the test split:

* closed-set top-1 on the known actions;
* AUROC of three open-set scores separating unknown from known test clips: the
  softmax's top probability (1 - max p), the energy (-logsumexp of the logits) and
  the distance to the nearest class prototype (the score models ship with);
* at the calibrated threshold: unknown clips rejected, known clips accepted, and the
  open-set accuracy on known clips (accepted *and* right);
* the same through the streaming runtime (``--stream``): each test clip, played once
  as a skeleton clip, through :class:`app.live.runtime.Runtime` with default settings;
  its last prediction decides; and the share of clips whose streamed label agrees
  with evaluating the whole clip.

``--videos MODEL``: the share of frames with a person that MODEL (e.g. the shipped
``default``) calls "none of these" on the shared videos (real MediaPipe pose).

    python benchmarks/openset.py --encoder runs/pre-pool/encoder.safetensors --stream --videos default
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
DATA = {"nw-ucla": SHARED / "datasets" / "nw-ucla" / "all_sqe", "utd-mhad": SHARED / "datasets" / "utd-mhad" / "Skeleton"}
GOALS = {"auroc": 0.90, "rejected": 80.0, "known_drop": 3.0, "agreement": 95.0}


def _machine() -> str:
    import torch

    return f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def _raw(dataset: str, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The clip's skeletons before preparation: ``joints[T, 25, 3]``, ``confidence[T, 25]``, fps."""
    from pose_adapters.readers import read_nwucla, read_utd

    if dataset == "nw-ucla":
        from ms2l.data.nwucla import NWUCLA_FPS

        c = read_nwucla(DATA[dataset] / f"{name}.json")
        return c.joints, c.confidence, NWUCLA_FPS
    path = DATA[dataset] / (name if name.endswith(".mat") else f"{name}.mat")
    if not path.exists():
        path = next(DATA[dataset].glob(f"{name}*.mat"))
    c = read_utd(path)
    return c.joints, c.confidence, c.fps


SCORES = ("msp", "energy", "distance", "cosine", "knn", "ssl-knn", "combo", "maha", "ssl-maha", "per-class",
          "maha+cos", "vim", "residual", "maha-tta")
#: Augmented copies whose features ``maha-tta`` averages with the clip's own (test-time augmentation).
TTA_COPIES = 4


def _vim(model: Any, bank: Any, *tests: Any, explained: float = 0.9) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """ViM (Wang et al. 2022) and its residual alone, for each of ``tests`` (raw features ``[M, F]``).

    In the classifier's standardised space, around the point its linear layer maps to zero logits:
    the norm of a feature off the principal subspace of the training features (the fewest directions
    that hold ``explained`` of their variance) is the *residual*; scaled so that its training mean
    equals the mean top logit, it is a virtual "none of these" logit, and ViM is that logit minus
    the logsumexp of the real ones (higher: more novel)."""
    import torch

    clf = model.classifier.eval()
    with torch.no_grad():
        W, b = clf.fc.weight, clf.fc.bias
        u = -(torch.linalg.pinv(W) @ b)                                    # [F]
        zb = clf.norm(bank) - u                                            # [N, F]
        vals, vecs = torch.linalg.eigh(zb.T @ zb / len(zb))
        order = vals.argsort(descending=True)
        share = vals[order].cumsum(0) / vals.sum()
        D = int((share < explained).sum()) + 1
        off = vecs[:, order[D:]]                                           # [F, F - D]
        alpha = clf(bank).max(1).values.mean() / (zb @ off).norm(dim=1).mean().clamp_min(1e-12)
        vim, res = [], []
        for f in tests:
            r = ((clf.norm(f) - u) @ off).norm(dim=1)
            res.append(r.numpy())
            vim.append((alpha * r - torch.logsumexp(clf(f), 1)).numpy())
        return vim, res


def _tta_features(model: Any, clips: Any, plain: Any) -> Any:
    """The mean of the clips' features ``plain`` and those of ``TTA_COPIES`` copies under the training augmentation."""
    import torch

    from ms2l.augment import Augment
    from ms2l.train import extract_features

    cpu = torch.device("cpu")
    fs = [plain] + [extract_features(model, clips, cpu, augment=Augment(), seed=1 + i).float() for i in range(TTA_COPIES)]
    return torch.stack(fs).mean(0)


def _per_class(model: Any, bank: Any, labels: np.ndarray, *tests: Any) -> list[np.ndarray]:
    """min over classes of (mean squared distance to the class prototype) / that class's own threshold,
    the 95 % quantile of its training clips' leave-one-out distances (the global one for classes of < 5)."""
    import torch

    clf = model.classifier.eval()
    with torch.no_grad():
        z = clf.norm(bank)
        y = torch.as_tensor(labels, dtype=torch.long)
        protos = clf.prototypes
        t = torch.empty(len(protos))
        for c in range(len(protos)):
            zc = z[y == c]
            n = len(zc)
            loo = ((zc - (zc.sum(0) - zc) / max(n - 1, 1)) ** 2).mean(1) if n > 1 else torch.zeros(0)
            t[c] = torch.quantile(loo, 0.95) if n >= 5 else clf.threshold
        out = []
        for f in tests:
            d = ((clf.norm(f)[:, None, :] - protos[None]) ** 2).mean(-1)   # [M, K]
            out.append((d / t.clamp_min(1e-12)).min(1).values.numpy())
        return out


def _mahalanobis(train: Any, labels: np.ndarray, *tests: Any) -> list[np.ndarray]:
    """Min over classes of the Mahalanobis distance with one covariance shared by all classes
    (within-class scatter, Ledoit-Wolf shrinkage towards a scaled identity), for each of ``tests``."""
    import torch

    y = torch.as_tensor(labels, dtype=torch.long)
    K = int(y.max()) + 1
    mu = torch.stack([train[y == c].mean(0) for c in range(K)])          # [K, F]
    x = train - mu[y]                                                     # within-class residuals [N, F]
    n, p = x.shape
    S = x.T @ x / n
    m = torch.trace(S) / p
    d2 = ((S - m * torch.eye(p)) ** 2).sum() / p
    sq = (x * x).sum(1)
    b2 = ((sq ** 2 - 2 * ((x @ S) * x).sum(1) + (S ** 2).sum()).sum() / n ** 2) / p
    alpha = float(min(b2, d2) / d2) if d2 > 0 else 1.0
    P = torch.linalg.inv(alpha * m * torch.eye(p) + (1 - alpha) * S)
    out = []
    for t in tests:
        diff = t[:, None, :] - mu[None]                                   # [M, K, F]
        out.append(torch.einsum("mkf,fg,mkg->mk", diff, P, diff).min(1).values.div(p).numpy())
    return out


def _scores(model: Any, clips: Any, bank: Any = None, features: Any = None) -> dict[str, np.ndarray]:
    """Open-set scores of ``clips`` (higher: more novel).  ``bank``: the training clips' raw features
    ``[N, F]`` for ``knn`` (cosine distance to the 5th nearest training clip, after the classifier's
    standardisation); ``cosine``: cosine distance to the nearest class prototype (standardised space).
    ``features``: the clips' raw features when already extracted."""
    import torch
    import torch.nn.functional as F

    from ms2l.train import extract_features

    f = extract_features(model, clips, torch.device("cpu")).float() if features is None else features
    with torch.no_grad():
        clf = model.classifier.eval()
        logits = clf(f)
        probs = logits.softmax(-1)
        z = F.normalize(clf.norm(f), dim=1)
        out = {"pred": probs.argmax(1).numpy(), "msp": (1 - probs.max(1).values).numpy(),
               "energy": (-torch.logsumexp(logits, 1)).numpy(), "distance": clf.novelty(f).numpy(),
               "cosine": (1 - z @ F.normalize(clf.prototypes, dim=1).T).min(1).values.numpy()}
        if bank is not None:
            zb = F.normalize(clf.norm(bank), dim=1)
            k = min(5, len(zb))
            out["knn"] = (1 - (z @ zb.T).topk(k, dim=1).values[:, -1]).numpy()
        return out


def _stream(model_path: Path, dataset: str, names: list[str]) -> list[dict[str, Any]]:
    """Each clip played once through the runtime (default settings, deterministic): its last prediction."""
    from app.live.runtime import Runtime
    from app.live.sources import SkeletonClipSource, save_skeleton_clip
    from app.settings import RuntimeSettings
    from app.types import Skeleton

    rt = Runtime(str(model_path), settings=RuntimeSettings(realtime=False))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(names):
            j, c, fps = _raw(dataset, name)
            t = np.arange(len(j)) / fps
            skels = [Skeleton(float(t[i]), i, j[i], c[i]) if (c[i] > 0).any() else None for i in range(len(j))]
            path = save_skeleton_clip(Path(tmp) / f"{k}.npz", skels, timestamps=list(t))
            last, state, seen = None, None, []
            for snap in rt.run(SkeletonClipSource(path)):
                if snap.prediction is not None:
                    last = snap.prediction
                    if last.novelty is not None:
                        seen.append(float(last.novelty))
                if snap.state is not None and snap.state.novelty is not None:
                    state = snap.state
            # Three readings of one stream's novelty: the last window's, the mean over every window
            # the clip gave, and the smoother's (what the window shows) at the end.
            out.append({"decided": last is not None,
                        "pred": int(np.argmax(last.probs)) if last is not None else -1,
                        "novelty": float(last.novelty) if last is not None and last.novelty is not None else np.inf,
                        "novelty_mean": float(np.mean(seen)) if seen else np.inf,
                        "novelty_smoothed": float(state.novelty) if state is not None else np.inf,
                        "state": state.state if state is not None else None})
    return out


@functools.lru_cache(maxsize=1)
def _outliers(config: Any) -> Any:
    """Other motion for outlier exposure: CMU takes cut into windows and SBU's people, one clip each
    (neither dataset's actions are the benchmark's known or unknown classes).  Read once for all folds
    (the fold models share the encoder's config)."""
    from ms2l.data.pool import load_pool, parse_sources

    d = SHARED / "datasets"
    return load_pool(parse_sources("cmu,sbu", f"{d / 'cmu-mocap-bvh'},{d / 'sbu-kinect-interaction'}"), config)[0]


def split_known(train_all: Any, test_all: Any, unknown: list[int]) -> tuple[tuple[str, ...], Any, Any, Any]:
    """``(known names, training clips of known actions, known test clips, unknown test clips)``; known
    actions are relabelled ``0..K-1`` in their order, unknown test clips keep their dataset labels."""
    known = [c for c in range(len(train_all.label_names)) if c not in unknown]
    remap = {c: i for i, c in enumerate(known)}
    names = tuple(train_all.label_names[c] for c in known)

    def only_known(cs: Any) -> Any:
        sub = cs.where(np.isin(cs.labels, known))
        sub.labels = np.array([remap[int(y)] for y in sub.labels], int)
        sub.label_names = names
        return sub

    return names, only_known(train_all), only_known(test_all), test_all.where(np.isin(test_all.labels, unknown))


def _fold_model(encoder: str, names: tuple[str, ...], strategy: str, pooling: str, head: str) -> Any:
    """A fresh classifier for ``names`` on ``encoder``, pooling and ending as asked."""
    from app.finetune import build_model

    model, _, _ = build_model(encoder, names, strategy)
    if (pooling, head) != (model.config.pooling, model.config.head):
        # The same encoder weights under a classifier that pools or ends otherwise.
        from ms2l.model import MS2L

        weights = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}
        model = MS2L(model.config.replace(pooling=pooling, head=head), with_ssl_heads=model.has_ssl_heads)
        model.load_state_dict(weights, strict=False)
    return model


def subject_cv(encoder: str, names: tuple[str, ...], strategy: str, pooling: str, head: str, train: Any,
               folds: int, seed: int) -> tuple[np.ndarray, float]:
    """Each training clip's novelty under a fold model that never saw its *person*
    (:func:`ms2l.openset.group_folds` over ``train.meta["subject"]``), and the seconds it took."""
    import torch

    from app.finetune import training_plan
    from ms2l.openset import group_folds, heldout_scores
    from ms2l.train import train_classifier

    t0 = time.perf_counter()
    held = np.full(len(train), np.nan)
    for idx in group_folds(train.meta["subject"], folds):
        keep = train.subset(np.setdiff1d(np.arange(len(train)), idx))
        m = _fold_model(encoder, names, strategy, pooling, head)
        for recipe in training_plan(strategy, len(keep), seed=seed):
            train_classifier(m, keep, recipe, torch.device("cpu"), progress_bar=False)
        held[idx] = heldout_scores(m, keep, train.subset(idx))
    return held, time.perf_counter() - t0


def _at(scale: float, known: np.ndarray, unknown: np.ndarray, right: np.ndarray) -> dict[str, float]:
    """Shares (%) at a threshold ``scale`` times the model's: known accepted, unknown rejected, open top-1."""
    ok = known * scale <= 1.0
    return {"known_accepted": 100.0 * float(ok.mean()), "unknown_rejected": 100.0 * float((unknown * scale > 1.0).mean()),
            "open_top1": 100.0 * float((ok & right).mean())}


def run_fold(dataset: str, encoder: str, strategy: str, fold: int, groups: list[list[int]], stream: bool,
             tmp: Path, outlier_weight: float = 0.0, pooling: str = "mean", head: str = "linear",
             subject_folds: int = 0, window_percentile: float | None = None) -> dict[str, Any]:
    import copy

    import torch

    from app.finetune import build_model, training_plan
    from ms2l.checkpoint import save_model
    from ms2l.data import load_dataset
    from ms2l.openset import auroc, calibrate
    from ms2l.train import train_classifier

    model0, _, config = build_model(encoder, ("x",), strategy)
    train_all = load_dataset(dataset, DATA[dataset], config, "train")
    test_all = load_dataset(dataset, DATA[dataset], config, "test")
    unknown = sorted(groups[fold])
    names, train, test_known, test_unknown = split_known(train_all, test_all, unknown)
    model = _fold_model(encoder, names, strategy, pooling, head)
    t0 = time.perf_counter()
    outliers = _outliers(config) if outlier_weight > 0 else None
    for recipe in training_plan(strategy, len(train), seed=fold):
        if outliers is not None and recipe.strategy != "linear":
            recipe.outlier_weight = outlier_weight
        train_classifier(model, train, recipe, torch.device("cpu"), progress_bar=False, outliers=outliers)
    o = calibrate(model, train)
    train_s = time.perf_counter() - t0
    from ms2l.train import extract_features

    bank = extract_features(model, train, torch.device("cpu")).float()
    ft = [bank, extract_features(model, test_known, torch.device("cpu")).float(),
          extract_features(model, test_unknown, torch.device("cpu")).float()]
    sk, su = _scores(model, test_known, bank, ft[1]), _scores(model, test_unknown, bank, ft[2])
    # The pretrained encoder's own features (before fine-tuning pulls every clip towards a known
    # class): cosine distance to the 5th nearest training clip, and that score added to the
    # prototype distance, each over its 95 % quantile on the training clips (leave-one-out).
    ssl = [extract_features(model0, cs, torch.device("cpu")).float() for cs in (train, test_known, test_unknown)]
    mu, sd = ssl[0].mean(0), ssl[0].std(0).clamp_min(1e-6)
    zs = [torch.nn.functional.normalize((x - mu) / sd, dim=1) for x in ssl]
    k = min(5, len(zs[0]) - 1)
    loo = 1 - (zs[0] @ zs[0].T).topk(k + 1, dim=1).values[:, -1]       # self is the nearest
    q = float(torch.quantile(loo, 0.95))
    for sc, z in ((sk, zs[1]), (su, zs[2])):
        sc["ssl-knn"] = (1 - (z @ zs[0].T).topk(k, dim=1).values[:, -1]).numpy()
        sc["combo"] = sc["distance"] + sc["ssl-knn"] / q
    sk["maha"], su["maha"], maha_b = _mahalanobis(ft[0], train.labels, ft[1], ft[2], ft[0])
    sk["ssl-maha"], su["ssl-maha"] = _mahalanobis(ssl[0], train.labels, ssl[1], ssl[2])
    sk["per-class"], su["per-class"] = _per_class(model, ft[0], train.labels, ft[1], ft[2])
    # Mahalanobis won on NW-UCLA and cosine on UTD-MHAD: their sum, each over its 95 % quantile on
    # the training clips, so that neither scale dominates.
    with torch.no_grad():
        clf = model.classifier.eval()
        zb = torch.nn.functional.normalize(clf.norm(bank), dim=1)
        cos_b = (1 - zb @ torch.nn.functional.normalize(clf.prototypes, dim=1).T).min(1).values.numpy()
    qm, qc = (max(float(np.quantile(v, 0.95)), 1e-12) for v in (maha_b, cos_b))
    for sc in (sk, su):
        sc["maha+cos"] = sc["maha"] / qm + sc["cosine"] / qc
    if model.config.head == "linear":
        (sk["vim"], su["vim"]), (sk["residual"], su["residual"]) = _vim(model, ft[0], ft[1], ft[2])
    tta = [_tta_features(model, cs, f) for cs, f in zip((train, test_known, test_unknown), ft)]
    sk["maha-tta"], su["maha-tta"] = _mahalanobis(tta[0], train.labels, tta[1], tta[2])
    closed = 100.0 * float((sk["pred"] == test_known.labels).mean())
    acc_known = sk["distance"] <= 1.0
    r: dict[str, Any] = {
        "dataset": dataset, "fold": fold, "unknown": [train_all.label_names[c] for c in unknown],
        "outlier_weight": outlier_weight,
        "train_clips": len(train), "test_known": len(test_known), "test_unknown": len(test_unknown),
        "train_s": train_s, "threshold": o["threshold"], "closed_top1": closed,
        "auroc": {k: auroc(sk[k], su[k]) for k in SCORES if k in sk},
        "unknown_rejected": 100.0 * float((su["distance"] > 1.0).mean()),
        "known_accepted": 100.0 * float(acc_known.mean()),
        "open_top1": 100.0 * float((acc_known & (sk["pred"] == test_known.labels)).mean()),
    }
    scale = 1.0
    if subject_folds:
        # The threshold set on people the fold models never saw; the model keeps its leave-one-out one,
        # so scores scale by the ratio of the two.
        held, cv_s = subject_cv(encoder, names, strategy, pooling, head, train, subject_folds, fold)
        o_cv = calibrate(copy.deepcopy(model), train, held_out=held)
        scale = o["threshold"] / o_cv["threshold"]
        r["subject_cv"] = {"folds": subject_folds, "seconds": cv_s, "threshold": o_cv["threshold"],
                           "held_accepted_by_loo": 100.0 * float((held <= o["threshold"]).mean()),
                           **_at(scale, sk["distance"], su["distance"], sk["pred"] == test_known.labels)}
    if stream:
        from ms2l.preprocess import WINDOW_PERCENTILE, live_window

        meta = {"open_set": o, "kind": "classifier",
                "live": live_window([len(x) for x in train.clips], config.window,
                                    WINDOW_PERCENTILE if window_percentile is None else window_percentile)}
        path = save_model(model, tmp / f"{dataset}-{fold}.safetensors", meta, include_ssl_heads=False)
        t1 = time.perf_counter()
        kn = _stream(path, dataset, list(test_known.names))
        un = _stream(path, dataset, list(test_unknown.names))
        nk = np.array([s["novelty"] for s in kn])
        nu = np.array([s["novelty"] for s in un])
        pk = np.array([s["pred"] for s in kn])
        r["stream"] = {
            "seconds": time.perf_counter() - t1,
            "decided": 100.0 * float(np.mean([s["decided"] for s in kn + un])),
            "auroc": auroc(np.where(np.isfinite(nk), nk, 1e9), np.where(np.isfinite(nu), nu, 1e9)),
            **{f"auroc_{key}": auroc(*(np.nan_to_num(np.array([x[f"novelty_{key}"] for x in g]), posinf=1e9)
                                       for g in (kn, un))) for key in ("mean", "smoothed")},
            "unknown_none_state": 100.0 * float(np.mean([x["state"] == "none" for x in un])),
            "known_none_state": 100.0 * float(np.mean([x["state"] == "none" for x in kn])),
            "unknown_rejected": 100.0 * float((nu > 1.0).mean()),
            "known_accepted": 100.0 * float((nk <= 1.0).mean()),
            "closed_top1": 100.0 * float((pk == test_known.labels).mean()),
            "open_top1": 100.0 * float(((nk <= 1.0) & (pk == test_known.labels)).mean()),
            "agreement": 100.0 * float(np.mean(np.concatenate([pk == sk["pred"],
                                                               np.array([s["pred"] for s in un]) == su["pred"]]))),
        }
        if subject_folds:
            r["stream"]["subject_cv"] = _at(scale, nk, nu, pk == test_known.labels)
    return r


def videos(model: str) -> list[dict[str, Any]]:
    """Share of person frames called "none of these" by ``model`` on the shared videos (real pose)."""
    from app.live.runtime import Runtime
    from app.live.sources import open_source
    from app.settings import RuntimeSettings

    out = []
    for name, mirrored in (("calisthenics-3people.avi", False), ("ntu-two-person.avi", True)):
        path = SHARED / "videos" / name
        if not path.exists():
            continue
        rt = Runtime(model, settings=RuntimeSettings(realtime=False))
        states: list[str] = []
        for snap in rt.run(open_source(path, mirrored=mirrored)):
            if snap.skeleton is not None and snap.state is not None:
                states.append(snap.state.state)
        n = max(1, len(states))
        counts = {s: states.count(s) for s in sorted(set(states))}
        out.append({"video": name, "person_frames": len(states), "states": counts,
                    "none_share": 100.0 * counts.get("none", 0) / n,
                    "action_share": 100.0 * counts.get("action", 0) / n})
    return out


def _mean(rs: list[dict], key: str, sub: str | None = None) -> float:
    vals = [(r[sub] if sub else r)[key] for r in rs if (sub is None or sub in r)]
    return statistics.fmean(vals) if vals else float("nan")


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    lines = ["# Open set: leave-classes-out, \"none of these\"", "",
             f"Machine: {doc['machine']}. Encoder: `{doc['encoder']}`. Strategy: {doc['strategy']} "
             f"(the app's training plan), {doc['folds']} folds of held-out actions per dataset"
             + (f"; outlier exposure: fine-tuned also on CMU and SBU motion towards uniform predictions, weight "
                f"{doc['outlier_weight']}" if doc.get("outlier_weight") else "") + ". Scores: "
             "`msp` = 1 - top softmax probability, `energy` = -logsumexp(logits), `distance` = distance to the "
             "nearest class prototype (what models ship with; threshold calibrated on the training clips, "
             "95 % of leave-one-out known scores accepted), `cosine` = cosine distance to the nearest prototype, "
             "`knn` = cosine distance to the 5th nearest training clip (both in the classifier's standardised "
             "feature space); `ssl-knn` = the same in the pretrained encoder's own (not fine-tuned) features, "
             "`combo` = distance + ssl-knn, each over its 95 % training quantile; `maha` / `ssl-maha` = "
             "Mahalanobis distance to the nearest class mean with one shrunk (Ledoit-Wolf) covariance, in the "
             "fine-tuned / the pretrained encoder's features; `per-class` = prototype distance over each class's own "
             "95 % leave-one-out quantile; `maha+cos` = maha + cosine, each over its 95 % quantile on the "
             "training clips; `vim` = ViM (Wang et al. 2022: the feature's norm off the training features' "
             "principal subspace as a virtual logit, minus logsumexp of the logits), `residual` = that norm "
             f"alone; `maha-tta` = maha on features averaged over the clip and {TTA_COPIES} augmented copies.", ""]
    for ds in doc["datasets"]:
        rs = [r for r in doc["runs"] if r["dataset"] == ds]
        if not rs:
            continue
        names = [k for k in SCORES if all(k in r["auroc"] for r in rs)]
        lines += [f"## {ds}", "", f"| fold | unknown actions | closed top-1 | AUROC {' / '.join(names)} | "
                  "unknown rejected | known accepted | open top-1 on known |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in rs:
            a = r["auroc"]
            cells = " / ".join(f"**{a[k]:.3f}**" if k == "distance" else f"{a[k]:.3f}" for k in names)
            lines.append(f"| {r['fold']} | {', '.join(r['unknown'])} | {r['closed_top1']:.1f} | {cells} | "
                         f"{r['unknown_rejected']:.1f} | {r['known_accepted']:.1f} | {r['open_top1']:.1f} |")
        lines.append("")
        lines.append("Mean AUROC over folds: " + ", ".join(
            f"{k} {statistics.fmean(r['auroc'][k] for r in rs):.3f}" for k in names) + ".")
        if all("stream" in r for r in rs):
            lines += ["", "Through the streaming runtime (each clip played once, default settings):", "",
                      "| fold | decided | AUROC last window / mean over windows / smoothed | unknown rejected | "
                      "known accepted | closed top-1 | open top-1 | agrees with clip evaluation | "
                      "state \"none\" at the end, unknown / known |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
            for r in rs:
                s = r["stream"]
                extra = (f" / {s['auroc_mean']:.3f} / {s['auroc_smoothed']:.3f}" if "auroc_mean" in s else "")
                ends = (f"{s['unknown_none_state']:.1f} / {s['known_none_state']:.1f}" if "unknown_none_state" in s
                        else "-")
                lines.append(f"| {r['fold']} | {s['decided']:.1f} | {s['auroc']:.3f}{extra} | "
                             f"{s['unknown_rejected']:.1f} | {s['known_accepted']:.1f} | {s['closed_top1']:.1f} | "
                             f"{s['open_top1']:.1f} | {s['agreement']:.1f} | {ends} |")
        lines.append("")
        if all("subject_cv" in r for r in rs):
            lines += _subject_cv_lines(rs)
        st = [r["stream"] for r in rs if "stream" in r]
        src = st if st else rs
        au = statistics.fmean(s["auroc"] if st else s["auroc"]["distance"] for s in src)
        rej = statistics.fmean(s["unknown_rejected"] for s in src)
        drop = statistics.fmean(s["closed_top1"] - s["open_top1"] for s in src)
        goal = [f"- AUROC {au:.3f} (goal ≥ {GOALS['auroc']}): **{'met' if au >= GOALS['auroc'] else 'not met'}**",
                f"- unknown rejected {rej:.1f} % (goal ≥ {GOALS['rejected']:.0f} %): "
                f"**{'met' if rej >= GOALS['rejected'] else 'not met'}**",
                f"- known accuracy {drop:.1f} points below closed-set (goal ≤ {GOALS['known_drop']:.0f}): "
                f"**{'met' if drop <= GOALS['known_drop'] else 'not met'}**"]
        cvs = [s["subject_cv"] for s in src if "subject_cv" in s]
        if len(cvs) == len(src):
            rej_cv = statistics.fmean(c["unknown_rejected"] for c in cvs)
            drop_cv = statistics.fmean(s["closed_top1"] - c["open_top1"] for s, c in zip(src, cvs))
            goal += [f"- at the threshold set on unseen people: unknown rejected {rej_cv:.1f} %: "
                     f"**{'met' if rej_cv >= GOALS['rejected'] else 'not met'}**; known accuracy {drop_cv:.1f} "
                     f"points below closed-set: **{'met' if drop_cv <= GOALS['known_drop'] else 'not met'}**"]
        if st:
            ag = statistics.fmean(s["agreement"] for s in st)
            goal.append(f"- streaming agrees with clip evaluation on {ag:.1f} % of test clips (goal ≥ "
                        f"{GOALS['agreement']:.0f} %): **{'met' if ag >= GOALS['agreement'] else 'not met'}**")
        lines += [f"Goals ({'streaming' if st else 'clip evaluation'}, mean over folds):", ""] + goal + [""]
    if doc.get("videos"):
        lines += [f"## The shipped model (`{doc['videos_model']}`) on the shared videos", "",
                  "| video | frames with a person | none of these | named an action | states |", "| --- | --- | --- | --- | --- |"]
        for v in doc["videos"]:
            lines.append(f"| {v['video']} | {v['person_frames']} | {v['none_share']:.1f} % | {v['action_share']:.1f} % | "
                         f"{v['states']} |")
        lines.append("")
    path.write_text("\n".join(lines))


def _subject_cv_lines(rs: list[dict[str, Any]]) -> list[str]:
    """The leave-one-out threshold against the one set on people the fold models never saw."""
    n = rs[0]["subject_cv"]["folds"]
    lines = [f"Threshold set on unseen people (`--subject-folds {n}`: fold models trained without some training "
             "people score those people's clips; 95 % of those scores accepted) against leave-one-out "
             "(`loo`, what models ship with), clip evaluation" + (" / streaming" if all("stream" in r for r in rs)
                                                                   else "") + ":", "",
             "| fold | threshold loo → people | unseen people's clips loo accepts | known accepted loo → people | "
             "unknown rejected loo → people | open top-1 loo → people | seconds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rs:
        c = r["subject_cv"]
        views = [(r, c)] + ([(r["stream"], r["stream"]["subject_cv"])] if "stream" in r else [])

        def cell(key: str) -> str:
            return " / ".join(f"{a[key]:.1f} → {b[key]:.1f}" for a, b in views)

        lines.append(f"| {r['fold']} | {r['threshold']:.3f} → {c['threshold']:.3f} | {c['held_accepted_by_loo']:.1f} | "
                     f"{cell('known_accepted')} | {cell('unknown_rejected')} | {cell('open_top1')} | "
                     f"{c['seconds']:.0f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", required=True, help="encoder (or model) file whose encoder the fold models start from")
    p.add_argument("--datasets", default="nw-ucla,utd-mhad")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--strategy", default="finetune", help="the app's strategies: prototype, linear, finetune")
    p.add_argument("--stream", action="store_true", help="also run every test clip through the streaming runtime")
    p.add_argument("--videos", metavar="MODEL", help="also measure MODEL's 'none of these' share on the shared videos")
    p.add_argument("--outliers", type=float, default=0.0, metavar="W",
                   help="outlier exposure: also fine-tune on CMU and SBU motion towards uniform predictions, "
                        "with this weight (default 0: off)")
    p.add_argument("--pooling", default="mean", choices=["mean", "mean+max"],
                   help="how the fold models' classifiers pool the encoder's frames (default: mean, the app's)")
    p.add_argument("--head", default="linear", choices=["linear", "cosine"],
                   help="the fold models' classifier head (default: linear, the app's)")
    p.add_argument("--subject-folds", type=int, default=0, metavar="N",
                   help="also set each fold model's threshold by cross-validation over its training people "
                        "(N fold models per fold, each scoring the people it never saw) and report the shares "
                        "at that threshold beside the leave-one-out one (default 0: off)")
    p.add_argument("--window-percentile", type=float, default=None, metavar="P",
                   help="with --stream: the live window spans the P-th percentile of the training clips' lengths "
                        "(ms2l.preprocess.live_window; default: the app's, WINDOW_PERCENTILE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "openset.json")
    a = p.parse_args(argv)
    import torch

    from ms2l.preprocess import WINDOW_PERCENTILE

    a.window_percentile = WINDOW_PERCENTILE if a.window_percentile is None else a.window_percentile
    torch.set_num_threads(a.threads)
    datasets = [d for d in a.datasets.split(",") if d]
    missing = [str(DATA[d]) for d in datasets if not DATA[d].exists()]
    if missing:
        print(f"openset: data not found: {', '.join(missing)} (see ../shared/README.md)", file=sys.stderr)
        return 2
    doc: dict[str, Any] = {"machine": _machine(), "encoder": a.encoder, "strategy": a.strategy, "folds": a.folds,
                           "outlier_weight": a.outliers, "pooling": a.pooling, "head": a.head,
                           "subject_folds": a.subject_folds, "window_percentile": a.window_percentile,
                           "datasets": datasets, "runs": [], "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                           "load_before": os.getloadavg()[0]}
    c0, t0 = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for ds in datasets:
            n = 10 if ds == "nw-ucla" else 27
            order = np.random.default_rng(a.seed).permutation(n)
            groups = [sorted(int(c) for c in g) for g in np.array_split(order, a.folds)]
            for fold in range(a.folds):
                r = run_fold(ds, a.encoder, a.strategy, fold, groups, a.stream, Path(tmp), a.outliers, a.pooling,
                             a.head, a.subject_folds, a.window_percentile)
                doc["runs"].append(r)
                print(f"{ds} fold {fold}: closed {r['closed_top1']:.1f}, AUROC {r['auroc']}, rejected "
                      f"{r['unknown_rejected']:.1f}, open {r['open_top1']:.1f}"
                      + (f", stream {r['stream']}" if "stream" in r else ""), flush=True)
                a.out.parent.mkdir(parents=True, exist_ok=True)
                a.out.write_text(json.dumps(doc, indent=1) + "\n")
                write_markdown(doc, a.out.with_suffix(".md"))
    if a.videos:
        doc["videos_model"] = a.videos
        doc["videos"] = videos(a.videos)
    return finish(doc, a.out, c0, t0, write_markdown)


def finish(doc: dict[str, Any], out: Path, c0: float, t0: float, markdown: Any) -> int:
    """Add the run's wall time and CPU share (since ``process_time`` ``c0`` and ``perf_counter`` ``t0``)
    to ``doc``, write it to ``out`` and, with ``markdown``, beside it as ``.md``."""
    wall = time.perf_counter() - t0
    doc |= {"wall_s": wall, "cpu_share": (time.process_time() - c0) / wall / os.cpu_count(),
            "load_after": os.getloadavg()[0]}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    markdown(doc, out.with_suffix(".md"))
    print(f"written {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
