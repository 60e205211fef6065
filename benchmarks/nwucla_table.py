"""Reproduce the MS²L paper's NW-UCLA rows (train views 1+2, test view 3).

For each seed: pretrain one encoder with all three tasks and reuse it for every
protocol -- linear evaluation, semi-supervised fine-tuning with 1 % and 10 % of
the labels, fully supervised ``scratch`` and ``joint`` -- plus a task ablation
(each task alone vs all three, linear evaluation).  Writes
``benchmarks/results/nwucla.json`` and ``nwucla.md``.

    python benchmarks/nwucla_table.py --data ../shared/datasets/nw-ucla/all_sqe --seeds 0 1 2

``--latency`` also times the batch-1 encoder on a 64-frame window on CPU
(eager torch, TorchScript, ONNX Runtime).  ``--quick`` runs 1-epoch versions for a smoke test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ms2l.config import ModelConfig, TaskConfig  # noqa: E402
from ms2l.data import load_nwucla, nwucla_split, stratified_fraction  # noqa: E402
from ms2l.model import MS2L  # noqa: E402
from ms2l.train import default_recipe, evaluate, pretrain, resolve_device, train_classifier  # noqa: E402

PAPER = {"linear": 76.81, "semi_1": 21.28, "semi_10": 60.45, "scratch": 83.86, "joint": 86.75}
ROWS = [
    ("linear", "linear evaluation (frozen encoder)"),
    ("semi_1", "semi-supervised, 1 % labels (fine-tune)"),
    ("semi_10", "semi-supervised, 10 % labels (fine-tune)"),
    ("scratch", "fully supervised, from scratch"),
    ("joint", "fully supervised, MS²L joint training"),
]


def machine(device: torch.device) -> str:
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "no GPU used"
    return f"{platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, {gpu}"


def with_encoder(encoder: MS2L, config: ModelConfig, ssl_heads: bool) -> MS2L:
    """A fresh classifier model whose encoder (and heads) start from ``encoder``."""
    model = MS2L(config, with_ssl_heads=ssl_heads)
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in encoder.state_dict().items() if k in own and not k.startswith("classifier")},
                          strict=False)
    return model


def run_seed(seed: int, data: Path, device: torch.device, quick: bool, ablation: bool, log,
             partial: Path | None = None, only_ablation: list[str] | None = None,
             only: list[str] | None = None) -> dict:
    base = ModelConfig()
    clips = load_nwucla(data, base)
    train, test = nwucla_split(clips, "train"), nwucla_split(clips, "test")
    config = base.replace(labels=train.label_names)
    ep = (lambda s: 1) if quick else (lambda s: None)
    out: dict = {"timings_s": {}}

    def timed(name, fn):
        t0 = time.perf_counter()
        r = fn()
        out["timings_s"][name] = round(time.perf_counter() - t0, 1)
        log(f"seed {seed} {name}: {r if isinstance(r, float) else ''} ({out['timings_s'][name]} s)")
        if isinstance(r, float):
            out[name if not name.startswith("ablation_") else name.removesuffix("_linear")] = r
        if partial is not None:  # a long run killed half-way keeps what it measured
            partial.write_text(json.dumps({"device": str(device), "machine": machine(device), "per_seed": {seed: out}}))
        return r

    def pretrained(tasks: TaskConfig) -> MS2L:
        torch.manual_seed(seed)
        m = MS2L(base)
        pretrain(m, train, default_recipe("pretrain", epochs=ep("pretrain"), seed=seed, tasks=tasks), device,
                 progress_bar=False)
        return m

    def classify(strategy: str, encoder: MS2L | None, fraction: float = 1.0) -> float:
        torch.manual_seed(seed)
        subset = train.subset(stratified_fraction(train.labels, fraction, seed)) if fraction < 1 else train
        model = with_encoder(encoder, config, strategy == "joint") if encoder is not None else \
            MS2L(config, with_ssl_heads=strategy == "joint")
        recipe = default_recipe(strategy, epochs=ep(strategy), seed=seed, label_fraction=fraction)
        train_classifier(model, subset, recipe, device, progress_bar=False)
        return evaluate(model, test, device)["top1"]

    if only_ablation:
        for task in only_ablation:
            e = timed(f"pretrain_{task}", lambda: pretrained(TaskConfig.from_names(task)))
            timed(f"ablation_{task}_linear", lambda: classify("linear", e))
        return out
    enc = timed("pretrain_all", lambda: pretrained(TaskConfig()))
    protocols = {
        "linear": lambda: classify("linear", enc),
        "semi_1": lambda: classify("finetune", enc, 0.01),
        "semi_10": lambda: classify("finetune", enc, 0.10),
        "scratch": lambda: classify("scratch", None),
        "joint": lambda: classify("joint", enc),
        "semi_1_linear": lambda: classify("linear", enc, 0.01),
        "semi_10_linear": lambda: classify("linear", enc, 0.10),
        "finetune": lambda: classify("finetune", enc),
        "linear_random_encoder": lambda: (torch.manual_seed(seed), classify("linear", MS2L(base)))[1],
    }
    for name, fn in protocols.items():  # the paper's rows first: a run cut short keeps those
        if only is None or name in only:
            out[name] = timed(name, fn)
    if ablation:
        for task in ("motion", "jigsaw", "contrastive"):
            e = timed(f"pretrain_{task}", lambda: pretrained(TaskConfig.from_names(task)))
            timed(f"ablation_{task}_linear", lambda: classify("linear", e))
    return out


def summarise(values: list[float], seeds: list[int]) -> dict:
    return {"mean": round(statistics.fmean(values), 2),
            "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
            "seeds": [round(v, 2) for v in values], "seed_ids": seeds}


def encoder_latency(window: int = 64, repeats: int = 300) -> dict:
    """Batch-1 latency (ms) of encoder + classifier on CPU: eager, TorchScript, ONNX Runtime."""
    import onnxruntime as ort
    res = {}
    config = ModelConfig(labels=tuple("abcdefghij"))
    model = MS2L(config, with_ssl_heads=False).eval()
    x = torch.randn(1, window, 1, 25, 3)
    lengths = torch.tensor([window])

    def bench(fn):
        for _ in range(20):
            fn()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
        return {"median_ms": round(float(np.median(ts)), 2), "p90_ms": round(float(np.percentile(ts, 90)), 2)}

    old = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            res[f"torch_eager_{threads}t"] = bench(lambda: model(x, lengths))
        with torch.no_grad():
            traced = torch.jit.trace(model, (x, lengths), check_trace=False)
        with torch.inference_mode():
            res[f"torchscript_{threads}t"] = bench(lambda: traced(x, lengths))
    torch.set_num_threads(old)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.onnx"

        class Wrap(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, a):
                return self.m(a, torch.full((a.shape[0],), a.shape[1], dtype=torch.long))

        torch.onnx.export(Wrap(model), (x,), str(path), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {1: "T"}}, dynamo=False)
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            xn = x.numpy()
            res[f"onnxruntime_{threads}t"] = bench(lambda: sess.run(None, {"x": xn}))
    return res


def markdown(result: dict) -> str:
    lines = [
        "# NW-UCLA, MS²L reproduction (train views 1+2, test view 3, top-1 %)", "",
        f"Seeds: {result['seeds']}. Device: {result['device']} ({result['machine']}).", "",
        "| setting | this project (mean ± std) | per seed | MS²L paper |", "| --- | --- | --- | --- |",
    ]
    for key, name in ROWS:
        if key not in result:
            continue
        r = result[key]
        lines.append(f"| {name} | **{r['mean']:.2f} ± {r['std']:.2f}** | {', '.join(f'{v:.1f}' for v in r['seeds'])} | {PAPER[key]} |")
    extra = [("finetune", "fine-tune, all labels"), ("semi_1_linear", "1 % labels, linear probe"),
             ("semi_10_linear", "10 % labels, linear probe"), ("linear_random_encoder", "linear probe on a random encoder")]
    if any(key in result for key, _ in extra):
        lines += ["", "Further rows:", "", "| setting | mean ± std | per seed |", "| --- | --- | --- |"]
    for key, name in extra:
        if key not in result:
            continue
        r = result[key]
        lines.append(f"| {name} | {r['mean']:.2f} ± {r['std']:.2f} | {', '.join(f'{v:.1f}' for v in r['seeds'])} |")
    if "ablation" in result:
        lines += ["", "Task ablation (linear evaluation):", "", "| pretraining tasks | top-1 % | per seed |", "| --- | --- | --- |"]
        for key, r in result["ablation"].items():
            lines.append(f"| {key} | {r['mean']:.2f} ± {r['std']:.2f} | {', '.join(f'{v:.1f}' for v in r['seeds'])} |")
    t = result["timings_s"]
    lines += ["", f"Wall time per seed ({result['device']}), seconds: " + ", ".join(f"{k} {v}" for k, v in t.items()),
              f"; whole run {result['wall_s']:.0f} s."]
    if "latency" in result:
        lines += ["", f"Batch-1 encoder + classifier latency, 64-frame window, CPU ({result.get('latency_machine', 'this machine')}):",
                  "", "| backend | median ms | p90 ms |",
                  "| --- | --- | --- |"]
        for k, v in result["latency"].items():
            lines.append(f"| {k} | {v['median_ms']} | {v['p90_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/datasets/nw-ucla/all_sqe")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--device", default="auto")
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--latency", action="store_true", help="also time the batch-1 encoder on CPU")
    p.add_argument("--latency-only", action="store_true",
                   help="only (re)measure the CPU latency and add it to an existing --out file")
    p.add_argument("--quick", action="store_true", help="1 epoch each: a smoke test, not a result")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/nwucla.json")
    p.add_argument("--seed-results", type=Path, nargs="*", default=[],
                   help="merge per-seed JSON files written by earlier runs (--per-seed-out) instead of training")
    p.add_argument("--per-seed-out", type=Path, help="write this run's raw per-seed results here")
    p.add_argument("--only", nargs="+", help="run just these protocols (after one pretraining), e.g. linear joint")
    p.add_argument("--only-ablation", nargs="+", choices=["motion", "jigsaw", "contrastive"],
                   help="run just these single-task pretrainings and their linear evaluation")
    a = p.parse_args()
    if not a.data.exists() and not a.seed_results:
        print(f"skipping: NW-UCLA not found at {a.data} (see ../shared/README.md)")
        return 0
    if a.latency_only:
        result = json.loads(a.out.read_text())
        torch.set_num_threads(2)
        result["latency"] = encoder_latency()
        result["latency_machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
        a.out.write_text(json.dumps(result, indent=2) + "\n")
        a.out.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return 0
    device = resolve_device(a.device)
    t0 = time.perf_counter()
    per_seed: dict[int, dict] = {}
    for f in a.seed_results:
        raw = json.loads(f.read_text())
        for k, v in raw["per_seed"].items():  # files may hold different protocols of one seed
            merged = per_seed.setdefault(int(k), {"timings_s": {}})
            merged["timings_s"].update(v.pop("timings_s", {}))
            merged.update(v)
        device_name, machine_name = raw["device"], raw["machine"]
    if not a.seed_results:
        device_name, machine_name = str(device), machine(device)
        if a.only_ablation and not a.per_seed_out:
            p.error("--only-ablation needs --per-seed-out (merge it later with --seed-results)")
        for s in a.seeds:
            per_seed[s] = run_seed(s, a.data, device, a.quick, not a.no_ablation, lambda m: print(m, flush=True),
                                   partial=a.per_seed_out, only_ablation=a.only_ablation, only=a.only)
        if a.per_seed_out:
            a.per_seed_out.write_text(json.dumps({"device": device_name, "machine": machine_name, "per_seed": per_seed}))
    seeds = sorted(per_seed)
    result: dict = {"dataset": "NW-UCLA", "protocol": "train views 1+2, test view 3", "seeds": seeds,
                    "device": device_name, "machine": machine_name, "quick": a.quick, "paper": PAPER}
    # Only what every seed finished (a run cut short keeps its partial per-seed file).
    keys = [k for k in per_seed[seeds[0]] if k != "timings_s" and not k.startswith("ablation_")
            and all(k in per_seed[s] for s in seeds)]
    for k in keys:
        result[k] = summarise([per_seed[s][k] for s in seeds], seeds)
    abl = {t: summarise([per_seed[s][f"ablation_{t}"] for s in seeds], seeds)
           for t in ("motion", "jigsaw", "contrastive") if all(f"ablation_{t}" in per_seed[s] for s in seeds)}
    if abl and "linear" in result:
        abl["all three"] = result["linear"]
        result["ablation"] = abl
    result["timings_s"] = {k: round(statistics.fmean(per_seed[s]["timings_s"][k] for s in seeds), 1)
                           for k in per_seed[seeds[0]]["timings_s"] if all(k in per_seed[s]["timings_s"] for s in seeds)}
    result["wall_s"] = sum(sum(per_seed[s]["timings_s"].values()) for s in seeds)
    result["targets_met"] = {k: result[k]["mean"] >= v for k, v in PAPER.items() if k in result}
    if a.latency:
        result["latency"] = encoder_latency()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    a.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
