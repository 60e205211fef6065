"""Pretraining and inference throughput, on CPU (1 and 2 processes) and on a GPU when there is one.

    python benchmarks/throughput.py                    # CPU figures, writes benchmarks/results/throughput.json/.md
    python benchmarks/throughput.py --device cuda      # adds GPU figures (fp32 and bf16) to the same files

Pretraining: one epoch of ``ms2l pretrain`` (all three tasks, batch 64) on the NW-UCLA
training views, clips/s as the command reports it; two processes run through
``torchrun --nproc_per_node=2`` with Gloo and one thread each.  Inference: windows/s
of encoder + classifier on batches of 64-frame windows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ms2l.config import ModelConfig  # noqa: E402
from ms2l.model import MS2L  # noqa: E402


def pretrain_rate(data: Path, device: str, procs: int, threads: int, precision: str = "auto", epochs: int = 1,
                  limit: int | None = None) -> dict:
    """Clips/s of ``ms2l pretrain`` (median over epochs after the first when epochs > 1)."""
    with tempfile.TemporaryDirectory() as d:
        src = data
        if limit:  # a fixed subset keeps the CPU run short
            src = Path(d) / "data"
            src.mkdir()
            for f in sorted(data.glob("*.json"))[:limit]:
                (src / f.name).symlink_to(f)
        cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
               if procs > 1 else [sys.executable]) + ["-m", "ms2l", "pretrain", "--data", str(src), "--out",
                                                     str(Path(d) / "run"), "--epochs", str(epochs), "--device", device,
                                                     "--precision", precision]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if r.returncode != 0:
            return {"error": r.stderr[-800:]}
        s = json.loads((Path(d) / "run" / "summary.json").read_text())
    rates = [h["samples_per_s"] for h in s["history"]]
    steady = rates[1:] if len(rates) > 1 else rates
    return {"clips_per_s": round(float(np.median(steady)), 1), "epochs": epochs, "clips": s["clips"],
            "processes": procs, "threads_per_process": threads, "wall_s": round(time.perf_counter() - t0, 1)}


@torch.inference_mode()
def inference_rate(device: str, batch: int, window: int = 64, repeats: int = 20, bf16: bool = False) -> dict:
    model = MS2L(ModelConfig(labels=tuple("abcdefghij")), with_ssl_heads=False).to(device).eval()
    x = torch.randn(batch, window, 1, 25, 3, device=device)
    lengths = torch.full((batch,), window, device=device)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)
    with ctx:
        for _ in range(3):
            model(x, lengths)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x, lengths)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            ts.append(time.perf_counter() - t0)
    return {"windows_per_s": round(batch / float(np.median(ts)), 1), "batch": batch, "window": window}


def markdown(res: dict) -> str:
    lines = ["# Throughput", ""]
    for dev, r in res.items():
        lines += [f"## {dev}: {r['machine']}", "", "| measure | value |", "| --- | --- |"]
        for k, v in r["pretrain"].items():
            lines.append(f"| pretrain, {k} | {v.get('clips_per_s', v.get('error', '?'))} clips/s |")
        for k, v in r["inference"].items():
            lines.append(f"| inference, {k} | {v['windows_per_s']} windows/s |")
        if "scaling_1_to_2_processes" in r:
            lines.append(f"| scaling, 2 processes / 1 process | {r['scaling_1_to_2_processes']}x |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/datasets/nw-ucla/all_sqe")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--limit", type=int, default=300, help="CPU: clips used for the pretraining timing (default 300)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/throughput.json")
    a = p.parse_args()
    if not a.data.exists():
        print(f"skipping: NW-UCLA not found at {a.data}")
        return 0
    res = json.loads(a.out.read_text()) if a.out.exists() else {}
    if a.device == "cpu":
        one = pretrain_rate(a.data, "cpu", 1, 2, epochs=2, limit=a.limit)
        two = pretrain_rate(a.data, "cpu", 2, 1, epochs=2, limit=a.limit)
        torch.set_num_threads(2)
        r = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
             "pretrain": {"1 process x 2 threads": one, "2 processes x 1 thread (torchrun, Gloo)": two},
             "inference": {f"batch {b}, 2 threads": inference_rate("cpu", b) for b in (1, 64)}}
        if "clips_per_s" in one and "clips_per_s" in two:
            r["scaling_1_to_2_processes"] = round(two["clips_per_s"] / one["clips_per_s"], 2)
    else:
        name = torch.cuda.get_device_name(0)
        r = {"machine": f"{name}, torch {torch.__version__}",
             "pretrain": {"1 GPU, fp32": pretrain_rate(a.data, "cuda", 1, 4, "fp32", epochs=3),
                          "1 GPU, bf16 autocast": pretrain_rate(a.data, "cuda", 1, 4, "bf16", epochs=3)},
             "inference": {f"batch {b}, {'bf16' if bf else 'fp32'}": inference_rate("cuda", b, bf16=bf)
                           for b in (1, 256) for bf in (False, True)}}
    res[a.device] = r
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2) + "\n")
    a.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
