"""Soak test: an hour of 30 fps input through the full threaded runtime, watching for leaks and drift.

    python benchmarks/soak.py                  # 100,000 frames; writes benchmarks/results/soak.{json,md}
    python benchmarks/soak.py --frames 5000 --out /tmp/soak.json   # a short check

What runs is the app's own engine (:class:`app.live.runtime.Runtime` in threaded mode: capture thread,
one-slot mailbox, worker thread, listeners, ``snapshot()`` and ``poll_errors()`` polled from the
main thread as the window does), with the shipped model (``assets/default.safetensors``) and the
runtime's defaults (ONNX Runtime on the CPU, ``every_k`` 3).  Only the camera and MediaPipe are
replaced: a synthetic camera delivers tiny frames stamped ``i / 30`` s, and a fake pose estimator
returns MediaPipe world landmarks of a synthetic person (waving, squatting, walking, standing,
leaving the view for 2 s every 45 s, a NaN landmark now and then), so the adapt, buffer, model and
smoothing stages do their real work.  The camera waits until the worker has taken each frame
(back-pressure), so every frame is processed, none is dropped, and the run goes as fast as the
CPU allows instead of taking an hour.

Figures: resident memory (RSS) growth after warm-up (the first 10 % of frames), threads (Python and
native) and open file descriptors at warm-up and at the end, and per-frame latency (capture to
snapshot, and the model stage where it ran) in the first and last 10 % of frames, p50/p90/p99.
Pass/fail: RSS growth < 50 MB, no thread or descriptor growth, last-10 % p99 within 1.5x of the
first 10 % (plus 2 ms of slack for scheduler noise on a shared machine).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
FPS = 30.0
RSS_LIMIT_MB = 50.0
P99_RATIO_LIMIT = 1.5
P99_SLACK_MS = 2.0


# ---------------------------------------------------------------- process figures (Linux /proc)

def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- synthetic person and camera

# NTU-25 joint heights (m) of a standing person, spine base at 1 m, and x offsets (x to the camera's left).
_Y = {0: 1.0, 1: 1.25, 20: 1.45, 2: 1.52, 3: 1.65, 12: 1.0, 16: 1.0, 13: 0.55, 17: 0.55, 14: 0.1, 18: 0.1,
      15: 0.05, 19: 0.05, 4: 1.45, 8: 1.45, 5: 1.2, 9: 1.2, 6: 1.0, 10: 1.0, 7: 0.95, 11: 0.95,
      21: 0.9, 22: 0.92, 23: 0.9, 24: 0.92}
_LEFT = [4, 5, 6, 7, 12, 13, 14, 15, 21, 22]
_RIGHT = [8, 9, 10, 11, 16, 17, 18, 19, 23, 24]
ACTIONS = ("wave", "squat", "walk", "stand")


def ntu_body(t: float, rng: np.random.Generator) -> np.ndarray:
    """``[25, 3]`` joints of a person doing one of :data:`ACTIONS` (10 s each, in turn) at time ``t``."""
    j = np.zeros((25, 3))
    for k, y in _Y.items():
        j[k, 1] = y
    j[_LEFT, 0], j[_RIGHT, 0], j[:, 2] = -0.18, 0.18, 2.5
    action = ACTIONS[int(t // 10) % len(ACTIONS)]
    phase = 2 * np.pi * 0.7 * t
    if action == "wave":
        j[[10, 11, 23, 24], 1] += 0.65 + 0.1 * np.sin(phase)
        j[[10, 11, 23, 24], 0] += 0.15 * np.sin(2 * phase)
    elif action == "squat":
        j[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 20, 21, 22, 23, 24], 1] -= 0.25 * (1 - np.cos(phase))
    elif action == "walk":
        j[:, 0] += 0.4 * np.sin(phase / 4)
        j[[13, 14, 15], 2] += 0.2 * np.sin(phase)
        j[[17, 18, 19], 2] -= 0.2 * np.sin(phase)
    return j + rng.normal(0, 0.003, j.shape)


def mediapipe_landmarks(ntu: np.ndarray) -> np.ndarray:
    """MediaPipe world landmarks ``[33, 3]`` (MediaPipe axes: x right, y down) placing a person like ``ntu``."""
    from pose_adapters import JOINT_INDEX as J
    from pose_adapters.mediapipe import MEDIAPIPE_LANDMARKS

    near = {"left_index": "left_hand_tip", "right_index": "right_hand_tip", "left_pinky": "left_hand",
            "right_pinky": "right_hand", "left_thumb": "left_thumb", "right_thumb": "right_thumb",
            "left_heel": "left_ankle", "right_heel": "right_ankle", "left_foot_index": "left_foot",
            "right_foot_index": "right_foot"}
    out = np.empty((33, 3))
    for k, name in enumerate(MEDIAPIPE_LANDMARKS):
        out[k] = ntu[J[near.get(name, name if name in J else "head")]]
    out[MEDIAPIPE_LANDMARKS.index("left_ear"), 0] -= 0.07
    out[MEDIAPIPE_LANDMARKS.index("right_ear"), 0] += 0.07
    out -= (out[23] + out[24]) / 2  # MediaPipe world landmarks: origin between the hips
    return (out * np.array([-1.0, -1.0, 1.0])).astype(np.float32)


class SyntheticPose:
    """Stands in for MediaPipe: world landmarks of the synthetic person, or nobody while they are away."""

    layout = "mediapipe_world"

    def __init__(self, mirrored: bool = False):
        self.mirrored = mirrored
        self.rng = np.random.default_rng(0)

    def process(self, frame):  # noqa: ANN001, ANN201 - app.types.Frame -> PoseResult
        from app.types import PoseResult

        t = frame.t
        if t % 45.0 >= 43.0:  # away from the camera for 2 s every 45 s
            return PoseResult(frame.index, t, None, None, None, self.layout, self.mirrored)
        pts = mediapipe_landmarks(ntu_body(t, self.rng))
        vis = np.clip(self.rng.normal(0.95, 0.05, 33), 0, 1).astype(np.float32)
        if frame.index % 487 == 0:
            pts[15] = np.nan  # a glitching wrist landmark
        pix = np.stack([320 + pts[:, 0] * 200, 240 + pts[:, 1] * 200], 1).astype(np.float32)
        return PoseResult(frame.index, t, pts, pix, vis, self.layout, self.mirrored)

    def close(self) -> None:
        pass


class SyntheticCamera:
    """``n`` tiny frames at 30 fps media time; each read waits until the worker took the previous frame."""

    name = "synthetic:30fps"
    mirrored = False
    fps = FPS
    live = False

    def __init__(self, n: int):
        self.n, self.i = n, 0
        self.taken = threading.Semaphore(1)
        self.image = np.zeros((48, 64, 3), np.uint8)
        self.frame_count = n
        self.stalls = 0

    def read(self):  # noqa: ANN201 - app.types.Frame | None
        from app.types import Frame

        if self.i >= self.n:
            return None
        while not self.taken.acquire(timeout=30):
            self.stalls += 1  # the worker took nothing for 30 s: counted, and reported by the figures
        f = Frame(image=self.image, t=self.i / FPS, index=self.i, source=self.name)
        self.i += 1
        return f

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- the run

def pct(a: np.ndarray, q: float) -> float:
    return round(float(np.percentile(a, q)), 3) if len(a) else float("nan")


def window_stats(total: np.ndarray, model: np.ndarray) -> dict[str, Any]:
    ran = model[~np.isnan(model)]
    return {"frames": int(len(total)),
            "total_ms": {"p50": pct(total, 50), "p90": pct(total, 90), "p99": pct(total, 99), "max": pct(total, 100)},
            "model_ms": {"n": int(len(ran)), "p50": pct(ran, 50), "p90": pct(ran, 90), "p99": pct(ran, 99)}}


def run(frames: int, model: str, sample_every: int, progress: bool) -> dict[str, Any]:
    from app.live.runtime import Runtime, RuntimeSettings

    settings = RuntimeSettings(realtime=False)  # every other setting: the runtime's defaults
    rt = Runtime(model, settings=settings, pose_factory=SyntheticPose)
    cam = SyntheticCamera(frames)
    total = np.full(frames, np.nan)
    model_ms = np.full(frames, np.nan)
    states = np.zeros(frames, np.int8)
    state_code = {"warming_up": 1, "no_person": 2, "unknown": 3, "action": 4}
    done = threading.Event()
    count = [0]

    def on_frame(snap) -> None:  # noqa: ANN001 - on the worker thread; preallocated arrays, no growth
        i = snap.frame.index
        total[i] = snap.timings["total"]
        if snap.prediction is not None and snap.prediction.frame_index == i:
            model_ms[i] = snap.timings["model"]
        states[i] = state_code.get(snap.state.state, 0)
        count[0] += 1
        cam.taken.release()
        if i == frames - 1:
            done.set()

    rt.add_listener(on_frame)
    warm = max(1, frames // 10)
    samples: list[dict[str, float]] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    rt.open(cam)
    next_sample = 0
    polls = 0
    while not done.is_set() and rt.running:
        done.wait(0.05)  # the window polls at about 20 Hz
        snap = rt.snapshot()
        polls += 1
        errors += [str(e) for e in rt.poll_errors()]
        n = count[0]
        if n >= next_sample:
            samples.append({"frame": n, "t_s": round(time.perf_counter() - t0, 2), "rss_mb": round(rss_mb(), 2),
                            "py_threads": threading.active_count(), "native_threads": native_threads(),
                            "fds": open_fds()})
            next_sample = n + sample_every
            if progress:
                s = samples[-1]
                print(f"\r{n:>7d}/{frames} frames  {n / max(s['t_s'], 1e-9):6.1f} fps  rss {s['rss_mb']:.1f} MB  "
                      f"threads {s['native_threads']}  fds {s['fds']}  state {snap.state.state if snap.state else '-'}",
                      end="", file=sys.stderr, flush=True)
    # Threads and descriptors are compared at the last sample taken while the runtime ran (its
    # threads end with the source); memory also at the very end.
    end = samples[-1]
    final = {"frame": count[0], "t_s": round(time.perf_counter() - t0, 2), "rss_mb": round(rss_mb(), 2),
             "py_threads": threading.active_count(), "native_threads": native_threads(), "fds": open_fds()}
    samples.append(final)
    rt.wait(30)
    wall = time.perf_counter() - t0
    stats = rt.snapshot().stats
    rt.close()
    errors += [str(e) for e in rt.poll_errors()]
    after_close = {"py_threads": threading.active_count(), "native_threads": native_threads(), "fds": open_fds()}
    if progress:
        print(file=sys.stderr)

    at_warm = next(s for s in samples if s["frame"] >= warm)
    post = [s for s in samples if s["frame"] >= warm]
    first, last = slice(0, warm), slice(frames - warm, frames)
    f_stats, l_stats = window_stats(total[first], model_ms[first]), window_stats(total[last], model_ms[last])
    growth = final["rss_mb"] - at_warm["rss_mb"]
    peak_growth = max(s["rss_mb"] for s in post) - at_warm["rss_mb"]
    p99_first, p99_last = f_stats["total_ms"]["p99"], l_stats["total_ms"]["p99"]
    checks = {
        "every frame processed, none dropped": stats.processed == frames and stats.dropped == 0,
        "no runtime errors": not errors,
        f"RSS growth after warm-up < {RSS_LIMIT_MB:g} MB": peak_growth < RSS_LIMIT_MB,
        "no thread growth after warm-up": end["native_threads"] <= at_warm["native_threads"]
        and end["py_threads"] <= at_warm["py_threads"],
        "no file-descriptor growth after warm-up": end["fds"] <= at_warm["fds"],
        f"p99 latency stable (last 10 % <= {P99_RATIO_LIMIT:g}x first 10 % + {P99_SLACK_MS:g} ms)":
            p99_last <= P99_RATIO_LIMIT * p99_first + P99_SLACK_MS,
        "runtime threads gone after close": after_close["py_threads"] <= at_warm["py_threads"] - 2,
    }
    counts = {name: int((states == code).sum()) for name, code in state_code.items()}
    return {
        "frames": frames, "media_hours": round(frames / FPS / 3600, 3), "wall_s": round(wall, 1),
        "frames_per_s": round(frames / wall, 1), "model": stats.model, "backend": stats.backend,
        "device": stats.device, "every_k": settings.every_k, "window": rt.recognizer.config.window,
        "processed": stats.processed, "dropped": stats.dropped, "camera_stalls": cam.stalls,
        "predictions": int((~np.isnan(model_ms)).sum()), "states": counts, "snapshot_polls": polls,
        "errors": errors[:10],
        "warmup_frames": warm,
        "memory": {"rss_at_warmup_mb": at_warm["rss_mb"], "rss_end_mb": final["rss_mb"],
                   "growth_after_warmup_mb": round(growth, 2), "peak_growth_after_warmup_mb": round(peak_growth, 2),
                   "rss_start_mb": samples[0]["rss_mb"]},
        "end_sample_frame": end["frame"],
        "threads": {"python_at_warmup": at_warm["py_threads"], "python_end": end["py_threads"],
                    "native_at_warmup": at_warm["native_threads"], "native_end": end["native_threads"],
                    "python_after_close": after_close["py_threads"], "native_after_close": after_close["native_threads"]},
        "fds": {"at_warmup": at_warm["fds"], "end": end["fds"], "after_close": after_close["fds"]},
        "latency_first_10pct": f_stats, "latency_last_10pct": l_stats,
        "p99_ratio_last_over_first": round(p99_last / p99_first, 3) if p99_first else None,
        "checks": checks, "passed": all(checks.values()),
        "samples": samples,
    }


def machine() -> dict[str, Any]:
    import onnxruntime
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def markdown(r: dict[str, Any]) -> str:
    m, th, fd = r["memory"], r["threads"], r["fds"]
    f, l_ = r["latency_first_10pct"], r["latency_last_10pct"]
    lines = [
        "# Soak test: the threaded runtime over an hour of 30 fps input",
        "",
        f"`python benchmarks/soak.py` -- {r['frames']:,} frames ({r['media_hours']} h of 30 fps video) from a synthetic "
        f"camera and a fake pose stage (MediaPipe world landmarks of a synthetic person) through `app.live.runtime.Runtime` "
        f"in threaded mode with the shipped model `{Path(r['model']).name}`, backend {r['backend']} on {r['device']}, "
        f"every_k {r['every_k']}, window {r['window']} (the runtime's defaults). Warm-up: the first {r['warmup_frames']:,} frames.",
        "",
        f"Machine: {r['machine']['cores']} cores ({r['machine']['cpu']}), load average {r['load_before']} before and "
        f"{r['load_after']} after the run: the cores were shared with other jobs throughout, so the latencies are "
        f"pessimistic and their tails partly other processes' doing. Wall time {r['wall_s']:.0f} s "
        f"({r['frames_per_s']:.0f} frames/s).",
        "",
        "| check | result |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {'pass' if v else '**FAIL**'} |" for k, v in r["checks"].items()]
    lines += [
        "",
        "| figure | at warm-up | at the end | change |",
        "| --- | --- | --- | --- |",
        f"| resident memory (RSS), MB | {m['rss_at_warmup_mb']:.1f} | {m['rss_end_mb']:.1f} | "
        f"{m['growth_after_warmup_mb']:+.1f} (peak {m['peak_growth_after_warmup_mb']:+.1f}) |",
        f"| native threads | {th['native_at_warmup']} | {th['native_end']} | {th['native_end'] - th['native_at_warmup']:+d} |",
        f"| Python threads | {th['python_at_warmup']} | {th['python_end']} | {th['python_end'] - th['python_at_warmup']:+d} |",
        f"| open file descriptors | {fd['at_warmup']} | {fd['end']} | {fd['end'] - fd['at_warmup']:+d} |",
        "",
        f"Threads and descriptors \"at the end\": the last sample while the runtime still ran (frame "
        f"{r['end_sample_frame']:,}); RSS: after the last frame. "
        f"After `close()`: {th['python_after_close']} Python threads, {fd['after_close']} descriptors "
        f"(RSS at start {m['rss_start_mb']:.1f} MB, before the model was warm).",
        "",
        "| latency, ms | first 10 % p50 / p90 / p99 | last 10 % p50 / p90 / p99 |",
        "| --- | --- | --- |",
        f"| capture to snapshot, every frame | {f['total_ms']['p50']} / {f['total_ms']['p90']} / {f['total_ms']['p99']} | "
        f"{l_['total_ms']['p50']} / {l_['total_ms']['p90']} / {l_['total_ms']['p99']} |",
        f"| model stage, frames that ran it | {f['model_ms']['p50']} / {f['model_ms']['p90']} / {f['model_ms']['p99']} | "
        f"{l_['model_ms']['p50']} / {l_['model_ms']['p90']} / {l_['model_ms']['p99']} |",
        "",
        f"p99 last / first: {r['p99_ratio_last_over_first']}. Frames processed {r['processed']:,}, dropped "
        f"{r['dropped']}, predictions {r['predictions']:,}; states (frames): "
        + ", ".join(f"{k} {v:,}" for k, v in r["states"].items())
        + f"; runtime errors: {len(r['errors'])}. RSS, threads and descriptors were sampled every "
        f"{r['sample_every']:,} frames (`samples` in `soak.json`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=100_000, help="frames to push through (default 100,000)")
    p.add_argument("--model", default="default", help="model file (default: the shipped model)")
    p.add_argument("--sample-every", type=int, default=2000, help="frames between RSS/thread/fd samples")
    p.add_argument("--out", type=Path, default=RESULTS / "soak.json", help="JSON to write (.md beside it)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    a = p.parse_args(argv)
    if a.frames < 100:
        p.error("--frames must be at least 100")
    load_before = load_average()
    r = run(a.frames, a.model, a.sample_every, not a.quiet)
    r |= {"load_before": load_before, "load_after": load_average(), "machine": machine(), "sample_every": a.sample_every,
          "command": "python benchmarks/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(r, indent=2) + "\n")
    md = markdown(r)
    a.out.with_suffix(".md").write_text(md)
    print(md)
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
