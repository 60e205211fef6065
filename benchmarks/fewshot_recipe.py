"""The fine-tune recipe at k = 5, chosen on NW-UCLA view 1 -> view 2 (never the test view).

Starts from a self-supervised encoder (``--encoder``), trains on 5 clips per action of view 1
(``per_class_sample`` draws 0..4) with the app's plan (:func:`app.finetune.training_plan`: a
linear probe, then every layer) changed in one way per variant, and scores view 2:

* ``base``: the plan as the app runs it (fine-tune stage 12 epochs at lr 3e-4, batch 16);
* ``ep30``: 30 fine-tune epochs; ``lr1e-3``: fine-tune at lr 1e-3; ``drop0.3``: dropout 0.3 before
  the classifier; ``views_tm``: the tilt and body-part mask views in the fine-tune stage; ``meanmax``:
  the classifier reads mean and max pooled features (``ModelConfig.pooling``); ``cosine``: the
  classifier's last layer is scaled cosine (``ModelConfig.head``); ``joint``: the fine-tune stage
  also trains the three MS²L tasks on the labelled clips (``--strategy joint``); ``ens3``: three
  models (seeds ``draw``, ``draw + 100``, ``draw + 200``) with their probabilities averaged;
  ``soup3``: the same three models' weights averaged into one (Wortsman et al. 2022, "Model soups").

Results (resumable) in ``--out`` (JSON) and the summary beside it (``.md``).

    python benchmarks/fewshot_recipe.py --encoder runs/pre-pair36/encoder.safetensors
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "nw-ucla" / "all_sqe"
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {}, "ep30": {"epochs": 30}, "lr1e-3": {"lr": 1e-3}, "drop0.3": {"dropout": 0.3},
    "views_tm": {"views": ("tilt", "mask")}, "meanmax": {"pooling": "mean+max"}, "cosine": {"head": "cosine"},
    "joint": {"strategy": "joint"}, "ens3": {"models": 3, "combine": "probs"},
    "soup3": {"models": 3, "combine": "weights"},
}


def run(encoder: str, variant: str, draw: int, train: Any, val: Any, config: Any, weights: dict,
        ssl_weights: dict) -> dict[str, Any]:
    import torch

    from app.finetune import training_plan
    from ms2l.data import per_class_sample
    from ms2l.model import MS2L
    from ms2l.train import evaluate, train_classifier

    from ms2l.evaluate import predict, score

    change = dict(VARIANTS[variant])
    cfg = config.replace(dropout=change.pop("dropout", 0.0), pooling=change.pop("pooling", "mean"),
                         head=change.pop("head", "linear"))
    n_models, combine = change.pop("models", 1), change.pop("combine", None)
    joint = change.get("strategy") == "joint"
    sub = train.subset(per_class_sample(train.labels, 5, seed=draw))
    t0 = time.perf_counter()
    from ms2l.soup import average_into, member_seeds

    models = []
    for seed in member_seeds(draw, n_models):
        torch.manual_seed(seed)
        model = MS2L(cfg, with_ssl_heads=joint)
        model.load_state_dict(weights if not joint else ssl_weights, strict=False)
        probe, main = training_plan("finetune", len(sub), seed=seed)
        for recipe in [probe, dataclasses.replace(main, **change)]:
            train_classifier(model, sub, recipe, torch.device("cpu"), progress_bar=False)
        models.append(model)
    if combine == "weights":
        models = [average_into(models)]
    train_s = time.perf_counter() - t0
    probs = sum(predict(m, val, torch.device("cpu")) for m in models) / len(models)
    return {"variant": variant, "draw": draw, "top1": score(val.labels, probs.argmax(1), val.label_names)["top1"],
            "s": train_s, "load": os.getloadavg()[0]}


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    runs = doc["runs"]
    base = [r["top1"] for r in runs if r["variant"] == "base"]
    lines = ["# Fine-tune recipe at k = 5: NW-UCLA view 1 -> view 2 (validation, never the test view)", "",
             f"Encoder: `{doc['encoder']}` (self-supervised, no labels). Machine: {doc['machine']}. "
             "5 draws (`per_class_sample` seeds 0-4); one change per row to the app's plan (probe, then "
             "12 fine-tune epochs at lr 3e-4).", "",
             "| variant | top-1 mean ± std | per draw | vs base | median s |", "| --- | --- | --- | --- | --- |"]
    for v in VARIANTS:
        a = [r["top1"] for r in runs if r["variant"] == v]
        if len(a) < 2:
            continue
        s = [r["s"] for r in runs if r["variant"] == v]
        lines.append(f"| {v} | {statistics.fmean(a):.2f} ± {statistics.stdev(a):.2f} | "
                     f"{', '.join(f'{x:.1f}' for x in a)} | "
                     f"{f'{statistics.fmean(a) - statistics.fmean(base):+.2f}' if base else '-'} | "
                     f"{statistics.median(s):.1f} |")
    if doc.get("note"):
        lines += ["", doc["note"]]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", required=True, help="an encoder file from `ms2l pretrain`")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fewshot_recipe.json")
    a = p.parse_args(argv)
    if not DATA.exists():
        print(f"fewshot_recipe: {DATA} not found (see ../shared/README.md)", file=sys.stderr)
        return 2
    import platform

    import torch

    from ms2l.checkpoint import load_model
    from ms2l.data import dataset_labels, load_dataset

    torch.set_num_threads(a.threads)
    enc, _ = load_model(a.encoder)
    config = enc.config.replace(labels=dataset_labels("nw-ucla"))
    weights = {k: v for k, v in enc.state_dict().items() if k.startswith("encoder.")}
    ssl_weights = enc.state_dict()  # the encoder and its self-supervised heads, for ``joint``
    train, val = (load_dataset("nw-ucla", DATA, config, s) for s in ("train1", "val2"))
    doc = json.loads(a.out.read_text()) if a.out.exists() else {"runs": []}
    doc |= {"encoder": a.encoder, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {a.threads} torch threads, "
                                            f"torch {torch.__version__}"}
    for v in a.variants.split(","):
        for draw in range(5):
            if any(r["variant"] == v and r["draw"] == draw for r in doc["runs"]):
                continue
            doc["runs"].append(run(a.encoder, v, draw, train, val, config, weights, ssl_weights))
            print(v, draw, f"{doc['runs'][-1]['top1']:.2f}", flush=True)
            a.out.write_text(json.dumps(doc, indent=1) + "\n")
    write_markdown(doc, a.out.with_suffix(".md"))
    print(a.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
