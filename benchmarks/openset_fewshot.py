"""Open set with a handful of clips: "none of these" for a model taught from two or three clips per action.

The app's case: a user records a few clips of each action, trains, and then does things the
model was never taught.  Leave-classes-out as in ``benchmarks/openset.py`` (the same seeded
groups of unknown actions, NW-UCLA view 3 and UTD-MHAD cross-subject test clips), but each
fold model learns from only ``--shots`` K clips per known action, drawn (seeded) from the
training split, and is trained as the app trains it with so few clips: the final model on all
K, plus the cross-validation fold models of :func:`app.finetune.cv_folds` (K folds, each
holding out one clip per action) that the app trains for its accuracy estimate.

Thresholds compared (each at the 95 % quantile, the app's):

* ``loo``    leave-one-out over the training clips (every model's until now);
* ``cv``     the held-out clips scored by the fold models that never trained on them, in units
  of each model's prototype spread (mean squared per-feature distance between two prototypes);
* ``cv-abs`` the same scores compared as they are (:func:`ms2l.openset.heldout_scores`): what the
  app ships since this benchmark (2026-12-04) chose it;
* ``cv-hd``, ``cv-lognormal``  the same scores, their quantile estimated smoothly (Harrell-Davis:
  every order statistic weighted) or from a log-normal fitted to them -- a quantile of 15-50
  scores is close to their maximum, and moves with it.

Each run also keeps its raw scores (``raw``) so a threshold can be tried again without training.

For each: known test clips accepted (the target is the quantile: 95 %), unknown test clips
rejected, and open top-1 on known clips (accepted *and* right).  AUROCs (threshold-free) of
the shipped score ``distance`` and of ``cosine``, ``knn``, ``maha`` and ``msp`` as in
``benchmarks/openset.py``; ``ensemble``: the mean relative novelty of the final model and the
fold models (which the app trains anyway and could keep), with its closed top-1 from their
mean probabilities.  ``--stream``: the same model through the streaming runtime (each test clip
played once, as ``benchmarks/openset.py --stream``), every threshold applied to its last window.

    python benchmarks/openset_fewshot.py --encoder runs/pre-vel36/encoder.safetensors --shots 3 --stream
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import openset as bench  # noqa: E402  (the leave-classes-out benchmark: its data, folds and scores)

THRESHOLDS = ("loo", "cv", "cv-abs", "cv-hd", "cv-lognormal")
AUROC_SCORES = ("distance", "cosine", "knn", "maha", "msp")
REPORTED = AUROC_SCORES + ("ensemble",)


def harrell_davis(x: np.ndarray, q: float) -> float:
    """The Harrell-Davis estimate of the ``q`` quantile of ``x``: every order statistic weighted by a
    Beta((n+1)q, (n+1)(1-q)) distribution -- smoother than interpolating the two nearest, so a few
    scores move it less."""
    from scipy.special import betainc

    x = np.sort(np.asarray(x, float))
    n = len(x)
    a, b = (n + 1) * q, (n + 1) * (1 - q)
    w = np.diff(betainc(a, b, np.arange(n + 1) / n))
    return float(w @ x)


def lognormal_quantile(x: np.ndarray, q: float) -> float:
    """The ``q`` quantile of a log-normal fitted to ``x`` (> 0): squared distances are skewed and positive."""
    from scipy.stats import norm

    lx = np.log(np.clip(np.asarray(x, float), 1e-12, None))
    return float(np.exp(lx.mean() + norm.ppf(q) * lx.std(ddof=1)))


def prototype_spread(prototypes: Any) -> float:
    """Mean over pairs of classes of the mean squared per-feature distance between prototypes ``[K, F]``."""
    import torch

    if len(prototypes) < 2:
        return 1.0
    s = float(torch.pdist(prototypes.double()).pow(2).mean() / prototypes.shape[1])
    return s if np.isfinite(s) and s > 0 else 1.0


@functools.lru_cache(maxsize=4)
def _split(dataset: str, encoder: str, split: str) -> Any:
    from app.finetune import build_model
    from ms2l.data import load_dataset

    config = build_model(encoder, ("x",), "prototype")[2]
    return load_dataset(dataset, bench.DATA[dataset], config, split)


def run_fold(dataset: str, encoder: str, strategy: str, fold: int, groups: list[list[int]], shots: int,
             draw: int, quantile: float = 0.95, stream: Path | None = None) -> dict[str, Any]:
    """One fold and draw; ``stream``: a folder for the model file, to also play every test clip through the runtime."""
    import torch

    from app.finetune import build_model, cv_folds, training_plan
    from ms2l.data import per_class_sample
    from ms2l.openset import auroc, calibrate, heldout_scores, novelty_scores
    from ms2l.train import extract_features, train_classifier

    cpu = torch.device("cpu")
    train_all, test_all = _split(dataset, encoder, "train"), _split(dataset, encoder, "test")
    unknown = sorted(groups[fold])
    names, pool, test_known, test_unknown = bench.split_known(train_all, test_all, unknown)
    train = pool.subset(per_class_sample(pool.labels, shots, seed=1000 * fold + draw))

    def fit(clips: Any, seed: int) -> Any:
        model = build_model(encoder, names, strategy)[0]
        for recipe in training_plan(strategy, len(clips), seed=seed):
            train_classifier(model, clips, recipe, cpu, progress_bar=False)
        return model

    def relative(m: Any, features: tuple[Any, Any] | None = None) -> tuple[np.ndarray, ...]:
        """Novelty over prototype spread and class probabilities of the known and unknown test clips under ``m``
        (``features``: their raw features under ``m`` when already extracted)."""
        out = []
        clf = m.classifier.eval()
        feats = features or tuple(extract_features(m, cs, cpu).float() for cs in (test_known, test_unknown))
        for f in feats:
            with torch.no_grad():
                out.append((novelty_scores(clf.norm(f), clf.prototypes) / prototype_spread(clf.prototypes)).numpy())
                out.append(clf(f).softmax(-1).numpy())
        return tuple(out)

    t0 = time.perf_counter()
    model = fit(train, draw)
    held = np.full(len(train), np.nan)
    held_abs = np.full(len(train), np.nan)
    members = []                                              # the fold models' test scores (ensemble rows)
    for i, idx in enumerate(cv_folds(train.labels, draw)):
        keep = train.subset(np.setdiff1d(np.arange(len(train)), idx))
        mk = fit(keep, draw + 1 + i)
        calibrate(mk, keep)                                   # its prototypes, as every trained model gets
        held_abs[idx] = heldout_scores(mk, keep, train.subset(idx))
        held[idx] = held_abs[idx] / prototype_spread(mk.classifier.prototypes)
        members.append(relative(mk))
    train_s = time.perf_counter() - t0
    o_loo = calibrate(model, train, quantile=quantile)
    o_cv = calibrate(model, train, quantile=quantile, held_out=held_abs)      # the app's, and the model's from here
    thresholds = {"loo": o_loo["threshold"],
                  "cv": float(np.quantile(held[np.isfinite(held)], quantile)) * prototype_spread(model.classifier.prototypes),
                  "cv-abs": o_cv["threshold"]}
    finite = held_abs[np.isfinite(held_abs)]
    thresholds |= {"cv-hd": harrell_davis(finite, quantile), "cv-lognormal": lognormal_quantile(finite, quantile)}

    bank = extract_features(model, train, cpu).float()
    fk, fu = (extract_features(model, cs, cpu).float() for cs in (test_known, test_unknown))
    sk, su = bench._scores(model, test_known, bank, fk), bench._scores(model, test_unknown, bank, fu)
    sk["maha"], su["maha"] = bench._mahalanobis(bank, train.labels, fk, fu)
    clf = model.classifier.eval()
    with torch.no_grad():
        rk, ru = (novelty_scores(clf.norm(f), clf.prototypes).numpy() for f in (fk, fu))
    right = sk["pred"] == test_known.labels
    # The app trains the fold models anyway: would keeping them (an ensemble of final + folds) say
    # "none of these" better?  Mean relative novelty, and the mean of their probabilities for the label.
    members.append(relative(model, (fk, fu)))
    ens_k, ens_u = (np.mean([m[j] for m in members], 0) for j in (0, 2))
    ens_auroc = auroc(ens_k, ens_u)
    ens_top1 = 100.0 * float((np.mean([m[1] for m in members], 0).argmax(1) == test_known.labels).mean())
    at = {name: {"threshold": t, "known_accepted": 100.0 * float((rk <= t).mean()),
                 "unknown_rejected": 100.0 * float((ru > t).mean()),
                 "open_top1": 100.0 * float(((rk <= t) & right).mean())} for name, t in thresholds.items()}
    r_stream = None
    if stream is not None:
        # The same model through the live runtime, each test clip played once; its last window decides.
        from ms2l.checkpoint import save_model
        from ms2l.preprocess import live_window

        meta = {"open_set": o_cv, "kind": "classifier", "live": live_window([len(x) for x in train.clips],
                                                                           model.config.window)}
        path = save_model(model, stream / f"{dataset}-{shots}-{fold}-{draw}.safetensors", meta,
                          include_ssl_heads=False)
        kn = bench._stream(path, dataset, list(test_known.names))
        un = bench._stream(path, dataset, list(test_unknown.names))
        # The runtime's novelty is score / the file's threshold (cv-abs): back to raw scores for every threshold.
        nk, nu = (np.array([x["novelty"] for x in g]) * o_cv["threshold"] for g in (kn, un))
        pk = np.array([x["pred"] for x in kn])
        r_stream = {"auroc": auroc(np.nan_to_num(nk, posinf=1e9), np.nan_to_num(nu, posinf=1e9)),
                    "closed_top1": 100.0 * float((pk == test_known.labels).mean()),
                    "agreement": 100.0 * float(np.mean(np.concatenate(
                        [pk == sk["pred"], np.array([x["pred"] for x in un]) == su["pred"]]))),
                    "at": {name: {"known_accepted": 100.0 * float((nk <= t).mean()),
                                  "unknown_rejected": 100.0 * float((nu > t).mean()),
                                  "open_top1": 100.0 * float(((nk <= t) & (pk == test_known.labels)).mean())}
                           for name, t in thresholds.items()}}
    return {"dataset": dataset, "fold": fold, "draw": draw, "shots": shots, "stream": r_stream,
            "unknown": [train_all.label_names[c] for c in unknown], "train_clips": len(train),
            "test_known": len(test_known), "test_unknown": len(test_unknown), "train_s": train_s,
            "closed_top1": 100.0 * float(right.mean()),
            "auroc": {k: auroc(sk[k], su[k]) for k in AUROC_SCORES} | {"ensemble": ens_auroc},
            "ensemble": {"models": len(members), "closed_top1": ens_top1},
            "held_out_accepted_at_loo": 100.0 * float((held_abs <= o_loo["threshold"]).mean()), "at": at,
            # Raw novelty (unscaled): the held-out training clips and the known / unknown test clips, so
            # another threshold can be tried on them without training again.
            "raw": {"held": held_abs.tolist(), "known": rk.tolist(), "unknown": ru.tolist(),
                    **({"stream_known": nk.tolist(), "stream_unknown": nu.tolist()} if stream is not None else {})}}


def _mean(rs: list[dict], get: Any) -> float:
    return statistics.mean(get(r) for r in rs)


def _spread(rs: list[dict], t: str) -> float:
    """Standard deviation over runs of the share of known test clips threshold ``t`` accepts."""
    v = [r["at"][t]["known_accepted"] for r in rs]
    return statistics.stdev(v) if len(v) > 1 else 0.0


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    ts = [t for t in THRESHOLDS if all(t in r["at"] for r in doc["runs"])]   # older runs compared fewer
    lines = ["# Open set with a handful of clips per action", "",
             f"Machine: {doc['machine']}. Encoder: `{doc['encoder']}`. Strategy: {doc['strategy']} (the app's), "
             f"{doc['folds']} folds of held-out actions (as `benchmarks/openset.py`), {doc['draws']} draw(s) of the "
             "training clips per fold. Thresholds at the 95 % quantile: `loo` leave-one-out over the training clips; "
             "`cv` the cross-validation fold models' scores of the clips they held out, over each model's prototype "
             "spread; `cv-abs` the same without the spread (what the app ships since 2026-12-04); `cv-hd` and `cv-lognormal` the same scores' 95 % quantile estimated smoothly (Harrell-Davis) or from a log-normal fit. `known accepted`: known test clips under the threshold "
             "(target 95 %); `open top-1`: accepted and right.", ""]
    if "wall_s" in doc:
        lines += [f"Wall {doc['wall_s']:.0f} s, CPU share {doc['cpu_share']:.2f}.", ""]
    for ds in doc["datasets"]:
        for k in doc["shots"]:
            rs = [r for r in doc["runs"] if r["dataset"] == ds and r["shots"] == k]
            if not rs:
                continue
            lines += [f"## {ds}, {k} clips per known action", "",
                      "| fold | draw | train clips | fit s (final + CV) | closed top-1 (ensemble) | AUROC "
                      + " / ".join(REPORTED) + " | " + " | ".join(
                          f"{t}: accepted / rejected / open" for t in ts) + " |",
                      "| --- " * (6 + len(ts)) + "|"]
            for r in rs:
                lines.append(f"| {r['fold']} | {r['draw']} | {r['train_clips']} | {r['train_s']:.0f} | "
                             f"{r['closed_top1']:.1f} ({r['ensemble']['closed_top1']:.1f}) | "
                             + " / ".join(f"{r['auroc'][s]:.3f}" for s in REPORTED)
                             + " | " + " | ".join(
                                 f"{r['at'][t]['known_accepted']:.1f} / {r['at'][t]['unknown_rejected']:.1f} / "
                                 f"{r['at'][t]['open_top1']:.1f}" for t in ts) + " |")
            lines += ["", "Means: closed top-1 {:.1f} (ensemble of final + fold models {:.1f}); AUROC ".format(
                          _mean(rs, lambda r: r["closed_top1"]), _mean(rs, lambda r: r["ensemble"]["closed_top1"]))
                      + ", ".join(f"{s} {_mean(rs, lambda r, s=s: r['auroc'][s]):.3f}" for s in REPORTED) + "; "
                      + "; ".join(f"`{t}` accepts {_mean(rs, lambda r, t=t: r['at'][t]['known_accepted']):.1f} % of "
                                  f"known, rejects {_mean(rs, lambda r, t=t: r['at'][t]['unknown_rejected']):.1f} % "
                                  f"of unknown, open top-1 {_mean(rs, lambda r, t=t: r['at'][t]['open_top1']):.1f}"
                                  for t in ts) + ".", "",
                      "Calibration error (mean over runs of |known accepted - 95|, points; in brackets the standard "
                      "deviation of known accepted over runs): "
                      + ", ".join(f"`{t}` {_mean(rs, lambda r, t=t: abs(r['at'][t]['known_accepted'] - 95.0)):.1f} "
                                  f"({_spread(rs, t):.1f})" for t in ts)
                      + ".", ""]
            st = [r["stream"] for r in rs if r.get("stream")]
            if st:
                lines += ["Through the streaming runtime (each test clip played once, its last window decides): AUROC "
                          f"{_mean(st, lambda x: x['auroc']):.3f}, closed top-1 {_mean(st, lambda x: x['closed_top1']):.1f}, "
                          f"agreement with clip evaluation {_mean(st, lambda x: x['agreement']):.1f} %; "
                          + "; ".join(f"`{t}` accepts {_mean(st, lambda x, t=t: x['at'][t]['known_accepted']):.1f} % of "
                                      f"known, rejects {_mean(st, lambda x, t=t: x['at'][t]['unknown_rejected']):.1f} %"
                                      f" of unknown, open top-1 {_mean(st, lambda x, t=t: x['at'][t]['open_top1']):.1f}"
                                      for t in ts) + ".", ""]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", help="encoder file the fold models start from (self-supervised: a supervised "
                                      "one has seen the unknown actions); needed unless --summarize")
    p.add_argument("--datasets", default="nw-ucla,utd-mhad")
    p.add_argument("--shots", default="3", help="clips per known action, comma-separated (default 3)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--draws", type=int, default=1, help="draws of the training clips per fold (default 1)")
    p.add_argument("--only-folds", default=None, help="comma-separated folds to run (default all)")
    p.add_argument("--strategy", default="finetune", help="the app's strategies: prototype, linear, finetune")
    p.add_argument("--stream", action="store_true", help="also play every test clip through the streaming runtime")
    p.add_argument("--seed", type=int, default=0, help="the fold groups' seed (as benchmarks/openset.py)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "openset_fewshot.json")
    p.add_argument("--summarize", action="store_true", help="only rewrite OUT.md from OUT")
    a = p.parse_args(argv)
    if a.summarize:
        write_markdown(json.loads(a.out.read_text()), a.out.with_suffix(".md"))
        return 0
    import torch

    torch.set_num_threads(a.threads)
    datasets = [d for d in a.datasets.split(",") if d]
    missing = [str(bench.DATA[d]) for d in datasets if not bench.DATA[d].exists()]
    if missing:
        print(f"openset_fewshot: data not found: {', '.join(missing)} (see ../shared/README.md)", file=sys.stderr)
        return 2
    if a.encoder is None or not Path(a.encoder).exists():
        print(f"openset_fewshot: no encoder file {a.encoder}", file=sys.stderr)
        return 2
    shots = [int(k) for k in a.shots.split(",") if k]
    if any(k < 2 for k in shots):
        print("openset_fewshot: --shots must be at least 2 (cross-validation holds one clip out)", file=sys.stderr)
        return 2
    only = None if a.only_folds is None else {int(f) for f in a.only_folds.split(",")}
    doc: dict[str, Any] = {"machine": bench._machine(), "encoder": a.encoder, "strategy": a.strategy,
                           "folds": a.folds, "draws": a.draws, "shots": shots, "datasets": datasets, "runs": [],
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": os.getloadavg()[0]}
    c0, t0 = time.process_time(), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="openset-fewshot-"))
    for ds in datasets:
        n = 10 if ds == "nw-ucla" else 27
        order = np.random.default_rng(a.seed).permutation(n)
        groups = [sorted(int(c) for c in g) for g in np.array_split(order, a.folds)]
        for k in shots:
            for fold in range(a.folds):
                if only is not None and fold not in only:
                    continue
                for draw in range(a.draws):
                    r = run_fold(ds, a.encoder, a.strategy, fold, groups, k, draw, stream=tmp if a.stream else None)
                    doc["runs"].append(r)
                    print(f"{ds} k={k} fold {fold} draw {draw}: closed {r['closed_top1']:.1f}, AUROC "
                          + ", ".join(f"{s} {v:.3f}" for s, v in r["auroc"].items()) + "; "
                          + "; ".join(f"{t} acc {v['known_accepted']:.1f} rej {v['unknown_rejected']:.1f}"
                                      for t, v in r["at"].items()) + f" ({r['train_s']:.0f} s)", flush=True)
                    a.out.parent.mkdir(parents=True, exist_ok=True)
                    a.out.write_text(json.dumps(doc, indent=1) + "\n")
                    write_markdown(doc, a.out.with_suffix(".md"))
    shutil.rmtree(tmp, ignore_errors=True)
    return bench.finish(doc, a.out, c0, t0, write_markdown)


if __name__ == "__main__":
    sys.exit(main())
