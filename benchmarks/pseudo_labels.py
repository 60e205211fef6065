"""How right are self-training's pseudo labels?  The classifier alone against label spreading.

Self-training (``ms2l.selftrain``) learns from the unlabelled clips it labels itself; what it
gains is bounded by how many of those labels are right.  Here, on the few-shot benchmark's
setting (k labelled clips per action from the training split, the rest with labels hidden,
``per_class_sample(seed=draw)`` as in ``benchmarks/fewshot.py``), one model is fine-tuned per
draw with the app's plan and the hidden clips are labelled by:

* ``model``: the fine-tuned classifier's top class;
* ``spread-tuned``: label spreading (``ms2l.propagation.spread``) over the fine-tuned encoder's
  pooled features of the labelled and hidden clips;
* ``spread-tuned+priorW``: the same with the classifier's probabilities as the hidden clips' prior,
  weighing ``W`` times the labelled clips (:data:`PRIOR_WEIGHTS`);
* ``spread-pre`` / ``spread-pre+prior1``: spreading over the pretrained encoder's features (before
  fine-tuning), without and with the prior.

For each: accuracy over all hidden clips, and over the surest half and all of what
``select_confident`` keeps (shares 0.5 and 1.0, what rounds 1 and 2 of two train on).

    python benchmarks/pseudo_labels.py --dataset nw-ucla --encoder runs/pre-vel36/encoder.safetensors
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
#: Weights of the classifier's probabilities beside the graph (ms2l.propagation.spread's prior_weight).
PRIOR_WEIGHTS = (0.3, 1.0, 3.0)


def _accuracies(proba, truth) -> dict[str, float]:
    import numpy as np

    from ms2l.selftrain import select_confident

    out = {"all": 100.0 * float((proba.argmax(1) == truth).mean())}
    for share in (0.5, 1.0):
        idx, lab = select_confident(proba, share)
        out[f"kept{share:g}"] = 100.0 * float((lab == truth[idx]).mean()) if len(idx) else float("nan")
        out[f"n{share:g}"] = int(len(idx))
    return out


def run_draw(config, train, weights, k: int, draw: int, knn: int, alpha: float) -> dict[str, Any]:
    import dataclasses

    import numpy as np
    import torch

    from app.finetune import FINETUNE_LR, training_plan
    from ms2l.data import per_class_sample
    from ms2l.model import MS2L
    from ms2l.propagation import spread
    from ms2l.train import extract_features, train_classifier

    chosen = per_class_sample(train.labels, k, seed=draw)
    rest = np.setdiff1d(np.arange(len(train)), chosen)
    sub, truth = train.subset(chosen), np.asarray(train.labels)[rest]
    torch.manual_seed(draw)
    model = MS2L(config, with_ssl_heads=False)
    model.load_state_dict(weights, strict=False)
    both = train.subset(np.concatenate([chosen, rest]))
    seeds = np.concatenate([np.asarray(train.labels)[chosen], np.full(len(rest), -1)])
    n_l, K = len(chosen), len(config.labels)
    pre = extract_features(model, both, torch.device("cpu")).numpy()
    t0 = time.perf_counter()
    for recipe in training_plan("finetune", len(sub), lr=FINETUNE_LR, seed=draw):
        train_classifier(model, sub, dataclasses.replace(recipe, views=()), torch.device("cpu"), progress_bar=False)
    fit_s = time.perf_counter() - t0
    tuned_t = extract_features(model, both, torch.device("cpu"))
    with torch.no_grad():  # the classifier on those features: the hidden clips' probabilities, no second pass
        proba = model.classifier.eval()(tuned_t[n_l:]).softmax(-1).numpy()
    tuned = tuned_t.numpy()
    prior = np.concatenate([np.zeros((n_l, K)), proba])
    t1 = time.perf_counter()
    methods = {
        "model": proba,
        "spread-tuned": spread(tuned, seeds, K, k=knn, alpha=alpha)[n_l:],
        **{f"spread-tuned+prior{w:g}": spread(tuned, seeds, K, prior=prior, prior_weight=w, k=knn, alpha=alpha)[n_l:]
           for w in PRIOR_WEIGHTS},
        "spread-pre": spread(pre, seeds, K, k=knn, alpha=alpha)[n_l:],
        "spread-pre+prior1": spread(pre, seeds, K, prior=prior, prior_weight=1.0, k=knn, alpha=alpha)[n_l:],
    }
    spread_s = (time.perf_counter() - t1) / (3 + len(PRIOR_WEIGHTS))
    return {"k": k, "draw": draw, "labelled": n_l, "hidden": len(rest), "fit_s": fit_s, "spread_s": spread_s,
            "methods": {m: _accuracies(p, truth) for m, p in methods.items()}}


def main(argv: list[str] | None = None) -> int:
    import fewshot

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="nw-ucla", choices=sorted(fewshot.DATA))
    p.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: in ../shared)")
    p.add_argument("--encoder", required=True, help="an encoder from `ms2l pretrain` (a .safetensors file)")
    p.add_argument("--k", type=int, default=5, help="labelled clips per action (default: 5)")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--knn", type=int, default=10, help="neighbours per clip in the graph (default: 10)")
    p.add_argument("--alpha", type=float, default=0.99, help="how far labels spread (default: 0.99)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="results (default: benchmarks/results/pseudo_labels_DATASET.json)")
    a = p.parse_args(argv)
    data = a.data or fewshot.DATA[a.dataset]
    if not data.exists():
        print(f"pseudo_labels: {a.dataset} data not found at {data} (see ../shared/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(a.threads)
    out = a.out or ROOT / "benchmarks" / "results" / f"pseudo_labels_{a.dataset}.json"
    config, train, _ = fewshot._load(a.dataset, data)
    weights, config = fewshot._encoder(f"ssl={a.encoder}", config)
    doc: dict[str, Any] = {"dataset": a.dataset, "encoder": fewshot._encoder_info(f"ssl={a.encoder}"),
                           "machine": fewshot._machine(a.threads), "knn": a.knn, "alpha": a.alpha, "runs": []}
    for draw in range(a.draws):
        r = run_draw(config, train, weights, a.k, draw, a.knn, a.alpha)
        doc["runs"].append(r)
        print(f"k={a.k} draw {draw}: " + ", ".join(f"{m} {v['all']:.1f}/{v['kept0.5']:.1f}/{v['kept1']:.1f}"
                                                    for m, v in r["methods"].items()), flush=True)
    methods = doc["runs"][0]["methods"]
    doc["summary"] = {m: {key: statistics.mean(r["methods"][m][key] for r in doc["runs"]) for key in methods[m]}
                      for m in methods}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# Pseudo-label accuracy, {a.dataset}, k = {a.k}, {a.draws} draws", "",
             f"Encoder: `{a.encoder}`; graph: {a.knn} neighbours, alpha {a.alpha}. Machine: {doc['machine']}.",
             f"Command: `python benchmarks/pseudo_labels.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             "| labeller | all hidden clips | surest half kept (share 0.5) | all kept (share 1.0) |",
             "| --- | --- | --- | --- |"]
    for m, v in doc["summary"].items():
        lines.append(f"| {m} | {v['all']:.1f} % | {v['kept0.5']:.1f} % of {v['n0.5']:.0f} | {v['kept1']:.1f} % of {v['n1']:.0f} |")
    lines += ["", f"Fine-tune {statistics.median(r['fit_s'] for r in doc['runs']):.1f} s median per draw; "
              f"one spreading {statistics.median(r['spread_s'] for r in doc['runs']):.2f} s.", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
