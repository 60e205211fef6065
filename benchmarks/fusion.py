"""Two-stream fusion: a joint encoder and a bone encoder, each trained as the product trains one,
their class probabilities averaged.

Self-supervised skeleton papers report such ensembles as their "2s" / "3s" rows (joint, motion and
bone streams, each pretrained on its own, the classifiers' scores added).  Here the joint stream is
an encoder pretrained with ``--velocity`` (joints and their change) and the bone stream one
pretrained with ``--bone --velocity`` (bone vectors and their change) on the same pool with the same
recipe; neither saw a label.  Every row trains each stream alone, scores it alone, then scores the
mean of the two streams' probabilities on the same test clips:

* ``linear``   -- ``ms2l train --strategy linear --pooling mean+max`` on NW-UCLA views 1 + 2 (all
  labels), tested on view 3: the paper's linear-evaluation row;
* ``fraction`` -- ``ms2l train --strategy finetune --label-fraction F`` (the paper's semi-supervised
  rows; ``--fractions``);
* ``kshot``    -- k clips per action (``per_class_sample``, draws 0..``--draws``-1), the app's own
  training plan (:func:`app.finetune.training_plan`, as ``benchmarks/fewshot.py`` runs it), fine-tune.

The CLI rows run ``ms2l train`` itself, so each stream's figure is the product's.  Results go to
``--out`` (json, resumable per row) and its ``.md``.

    python benchmarks/fusion.py --joint runs/pre-vel36/encoder.safetensors \\
        --bone runs/pre-bone36/encoder.safetensors
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA = {"nw-ucla": ROOT.parent / "shared" / "datasets" / "nw-ucla" / "all_sqe",
        "utd-mhad": ROOT.parent / "shared" / "datasets" / "utd-mhad" / "Skeleton"}
#: Issue 13's goals, for the markdown's last column.
GOALS = {("nw-ucla", "linear"): 90.0, ("nw-ucla", "fraction", 0.01): 40.0, ("nw-ucla", "fraction", 0.1): 80.0,
         ("nw-ucla", "kshot", 5): 70.0, ("utd-mhad", "kshot", 5): 80.0}
STREAMS = ("joint", "bone")


def _top1(prob: Any, y: Any) -> float:
    return round(100.0 * float((prob.argmax(1) == y).mean()), 2)


def _fused(probs: dict[str, Any], y: Any) -> dict[str, float]:
    """Each stream's top-1 and that of the streams' mean probability."""
    out = {s: _top1(p, y) for s, p in probs.items()}
    out["fused"] = _top1(sum(probs.values()) / len(probs), y)
    return out


def cli_row(dataset: str, encoders: dict[str, str], args: list[str], work: Path, seed: int) -> dict[str, Any]:
    """Train one model per stream with ``ms2l train ARGS``, score each and their mean on the test split."""
    import numpy as np
    import torch

    from ms2l.checkpoint import load_model
    from ms2l.data import load_dataset
    from ms2l.evaluate import predict

    probs, seconds, y = {}, {}, None
    for stream, enc in encoders.items():
        out = work / f"{dataset}-{stream}-{'-'.join(a.strip('-') for a in args)}-s{seed}.safetensors"
        cmd = [sys.executable, "-m", "ms2l", "train", "--dataset", dataset, "--data", str(DATA[dataset]),
               "--encoder", enc, "--seed", str(seed), "--out", str(out), *args]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        seconds[stream] = round(time.perf_counter() - t0, 1)
        model, _ = load_model(out)
        test = load_dataset(dataset, DATA[dataset], model.config, "test")
        probs[stream] = predict(model, test, torch.device("cpu"))
        y = np.asarray(test.labels) if y is None else y
    return {"top1": _fused(probs, y), "train_s": seconds, "n": len(y)}


_LOADED: dict[str, Any] = {}


def kshot_row(dataset: str, encoders: dict[str, str], k: int, draw: int) -> dict[str, Any]:
    """Fine-tune each stream on the same k clips per action with the app's plan; score each and the mean."""
    import numpy as np
    import torch

    from app.finetune import FINETUNE_LR, training_plan
    from fewshot import _encoder, _load
    from ms2l.data import per_class_sample
    from ms2l.evaluate import predict
    from ms2l.model import MS2L
    from ms2l.train import train_classifier

    if dataset not in _LOADED:  # the clips are the same for every draw
        _LOADED[dataset] = _load(dataset, DATA[dataset])
    config, train, test = _LOADED[dataset]
    sub = train.subset(per_class_sample(train.labels, k, seed=draw))
    probs, seconds = {}, {}
    for stream, enc in encoders.items():
        weights, cfg = _encoder(f"{stream}={enc}", config)
        torch.manual_seed(draw)
        model = MS2L(cfg, with_ssl_heads=False)
        model.load_state_dict(weights, strict=False)
        t0 = time.perf_counter()
        for recipe in training_plan("finetune", len(sub), lr=FINETUNE_LR, seed=draw):
            train_classifier(model, sub, recipe, torch.device("cpu"), progress_bar=False)
        seconds[stream] = round(time.perf_counter() - t0, 1)
        probs[stream] = predict(model, test, torch.device("cpu"))
    return {"top1": _fused(probs, np.asarray(test.labels)), "train_s": seconds, "n": len(test), "clips": len(sub)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--joint", required=True, help="the joint-stream encoder (ms2l pretrain --velocity)")
    p.add_argument("--bone", required=True, help="the bone-stream encoder (ms2l pretrain --bone --velocity)")
    p.add_argument("--rows", default="linear,kshot,fraction", help="comma list of linear, kshot, fraction")
    p.add_argument("--datasets", default="nw-ucla,utd-mhad", help="k-shot datasets (linear and fraction: nw-ucla)")
    p.add_argument("--ks", default="5")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--fractions", default="0.1")
    p.add_argument("--seed", type=int, default=0, help="seed of the CLI rows")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "fusion", help="where the CLI rows' models go")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fusion.json")
    a = p.parse_args(argv)
    encoders = {"joint": a.joint, "bone": a.bone}
    for path in encoders.values():
        if not Path(path).exists():
            print(f"fusion: encoder {path} not found", file=sys.stderr)
            return 2
    missing = [d for d in DATA if not DATA[d].exists()]
    if missing:
        print(f"fusion: {', '.join(missing)} data not found (see ../shared/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(a.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    a.work.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = json.loads(a.out.read_text()) if a.out.exists() else {"rows": []}
    doc |= {"encoders": encoders, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {a.threads} torch "
            f"threads, torch {torch.__version__}"}
    done = {json.dumps(r["key"]) for r in doc["rows"]}
    plan: list[tuple[list, Any]] = []
    rows = a.rows.split(",")
    if "linear" in rows:
        plan.append((["nw-ucla", "linear"], lambda: cli_row("nw-ucla", encoders, ["--strategy", "linear",
                                                                                   "--pooling", "mean+max"],
                                                             a.work, a.seed)))
    if "fraction" in rows:
        for f in (float(x) for x in a.fractions.split(",")):
            plan.append((["nw-ucla", "fraction", f], lambda f=f: cli_row(
                "nw-ucla", encoders, ["--strategy", "finetune", "--label-fraction", str(f)], a.work, a.seed)))
    if "kshot" in rows:
        for ds in a.datasets.split(","):
            for k in (int(x) for x in a.ks.split(",")):
                for draw in range(a.draws):
                    plan.append(([ds, "kshot", k, draw], lambda ds=ds, k=k, draw=draw: kshot_row(ds, encoders, k, draw)))
    for key, run in plan:
        if json.dumps(key) in done:
            continue
        c0, t0, load0 = time.process_time(), time.perf_counter(), os.getloadavg()[0]
        r = run()
        wall = time.perf_counter() - t0
        r |= {"key": key, "wall_s": round(wall, 1), "cpu_share_main": round((time.process_time() - c0) / wall / a.threads, 2),
              "load_before": load0, "load_after": os.getloadavg()[0], "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        doc["rows"].append(r)
        print(key, r["top1"], f"{wall:.0f} s", flush=True)
        a.out.write_text(json.dumps(doc, indent=1) + "\n")
        write_markdown(doc, a.out.with_suffix(".md"))
    return 0


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    import statistics

    groups: dict[tuple, list[dict]] = {}
    for r in doc["rows"]:
        groups.setdefault(tuple(r["key"][:3]) if r["key"][1] != "linear" else tuple(r["key"]), []).append(r)
    lines = ["# Two-stream fusion: joint + bone encoders, probabilities averaged", "",
             f"Joint stream `{doc['encoders']['joint']}`, bone stream `{doc['encoders']['bone']}` (both self-supervised, "
             f"no labels); {doc['machine']}. `benchmarks/fusion.py`; k-shot rows: mean ± std over draws.", "",
             "| dataset | row | joint % | bone % | fused % | goal | runs | train s per stream (median) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, rs in groups.items():
        def stat(s: str) -> str:
            v = [r["top1"][s] for r in rs]
            return f"{statistics.mean(v):.2f}" + (f" ± {statistics.stdev(v):.2f}" if len(v) > 1 else "")
        if key[1] == "linear":
            name = "linear, mean+max, all labels"
        elif key[1] == "fraction":
            name = f"fine-tune, {key[2]:.0%} labels"
        else:
            name = f"fine-tune, k = {key[2]} per action"
        goal = GOALS.get(key)
        fused = statistics.mean(r["top1"]["fused"] for r in rs)
        verdict = "–" if goal is None else f"≥ {goal:g}: **{'met' if fused >= goal else 'not met'}**"
        secs = statistics.median(s for r in rs for s in r["train_s"].values())
        lines.append(f"| {key[0]} | {name} | {stat('joint')} | {stat('bone')} | **{stat('fused')}** | {verdict} | "
                     f"{len(rs)} | {secs:.0f} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
