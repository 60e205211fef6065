"""Latency of the live pipeline, stage by stage, and what the model-stage choices cost.

    python benchmarks/latency.py                    # everything; writes benchmarks/results/latency.{json,md}
    python benchmarks/latency.py --quick            # a short run (about a minute)
    python benchmarks/latency.py --sections model --device cuda --json gpu.json   # model stage on a GPU only

Sections:

* ``pipeline``: each video of ``../shared/videos`` scaled to 640x480 and played as a
  30 fps camera (timestamps ``i / 30``), every frame through the synchronous
  runtime with real MediaPipe: median and p90 ms per stage (decode = read +
  resize, pose, adapt, buffer, model, smooth, total).
* ``realtime``: the same streams through the threaded runtime, paced at 30 fps as a
  camera delivers them: frames per second achieved, frames dropped, capture-to-
  prediction latency (median, p90).
* ``model``: the model stage alone, batch 1, per window length: torch (1 thread),
  torch with dynamic int8 quantisation, ONNX Runtime (1 thread); CUDA when present;
  and the amortised cost per camera frame when classifying every k-th frame.
* ``accuracy``: with a trained model (``--model``, default ``default``), NW-UCLA
  view-3 top-1 for each choice: window length (the last W frames of each clip),
  backend (ONNX Runtime, int8), and classifying every k-th frame of a 30 fps
  stream (per-frame accuracy of the latest prediction, replayed clip by clip).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's per-frame notes

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._common import machine as _machine, stats as _stats  # noqa: E402
SHARED = Path(os.environ.get("MS2L_SHARED", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results"
CAMERA_FPS = 30.0
SIZE = (640, 480)
STAGES = ("decode", "pose", "adapt", "buffer", "model", "smooth", "total")


def stats(xs: list[float] | np.ndarray) -> dict[str, float]:
    return _stats(xs, digits=3)


def machine() -> dict[str, Any]:
    import torch

    info = _machine(("onnxruntime", "cv2", "mediapipe", "numpy"))
    info |= {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


# -- model -----------------------------------------------------------------------------------------
def load_or_random(spec: str | None):
    """``(MS2L, name)``: the given/default model, else the official architecture with random weights
    (timings do not depend on the weights)."""
    from ms2l.checkpoint import ModelFileError, load_model
    from ms2l.config import ModelConfig
    from ms2l.data import NWUCLA_LABELS
    from ms2l.model import MS2L

    if spec:
        try:
            return load_model(spec)[0], spec
        except ModelFileError as e:
            print(f"note: {e}; timing a random model of the official size instead", file=sys.stderr)
    import torch

    torch.manual_seed(0)
    return MS2L(ModelConfig(labels=NWUCLA_LABELS), with_ssl_heads=False).eval(), "random (official size: GRU 2x300 bidirectional)"


def time_call(fn: Callable[[], Any], n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def runners(model, device: str) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Named ways to run ``model`` on ``x[1, T, M, V, C]``: each returns ``probs[K]``."""
    import torch

    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if device == "cpu":
        torch.set_num_threads(1)
        cpu = model.cpu().eval()

        def run_torch(x: np.ndarray, m=cpu) -> np.ndarray:
            with torch.inference_mode():
                return torch.softmax(m(torch.from_numpy(x), torch.tensor([x.shape[1]])), -1)[0].numpy()

        out["torch fp32, 1 thread"] = run_torch
        with warnings.catch_warnings():  # eager dynamic quantisation is deprecated in torch, still works
            warnings.simplefilter("ignore")
            q = torch.ao.quantization.quantize_dynamic(cpu, {torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
        out["torch int8 (dynamic), 1 thread"] = lambda x, m=q: run_torch(x, m)
        try:
            import onnxruntime as ort

            from ms2l.export import export_onnx

            path = export_onnx(cpu, Path(os.environ.get("TMPDIR", "/tmp")) / f"ms2l-bench-{os.getpid()}.onnx")
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            out["ONNX Runtime, 1 thread"] = lambda x: sess.run(None, {"x": x})[0][0]
        except ImportError:
            pass
    else:
        gpu = model.to(device).eval()

        def run_cuda(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                xt = torch.from_numpy(x).to(device)
                return torch.softmax(gpu(xt, torch.tensor([x.shape[1]], device=device)), -1)[0].cpu().numpy()

        out[f"torch fp32, {torch.cuda.get_device_name(0)}"] = run_cuda
    return out


def section_model(model, windows: list[int], device: str, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    res: dict[str, Any] = {}
    for name, run in runners(model, device).items():
        res[name] = {}
        for T in windows:
            x = rng.normal(size=(1, T, 1, 25, 3)).astype(np.float32)
            res[name][str(T)] = stats(time_call(lambda: run(x), n))
            print(f"model  {name:<34} T={T:<3} {res[name][str(T)]['median']:7.2f} ms", file=sys.stderr)
    return res


def amortised(model_ms: dict[str, Any], window: int, ks=(1, 2, 3, 4)) -> dict[str, dict[str, float]]:
    """Model ms per camera frame when classifying every k-th frame (median call / k)."""
    return {name: {str(k): round(v[str(window)]["median"] / k, 3) for k in ks}
            for name, v in model_ms.items() if str(window) in v}


# -- pipeline --------------------------------------------------------------------------------------
class CameraLike:
    """A video played as a 30 fps camera at 640x480: frames resized, ``t = i / 30``, looped to ``n`` frames.

    ``read`` time (decode + resize) is what the runtime records as the decode stage.
    """

    def __init__(self, path: Path, n: int, fps: float = CAMERA_FPS):
        from app.live.sources import open_source

        self.src = open_source(path, loop=True)
        self.name, self.mirrored, self.fps, self.n, self.i = path.name, False, fps, n, 0
        self.frame_count = n

    def read(self):
        import cv2

        from app.types import Frame

        if self.i >= self.n:
            return None
        f = self.src.read()
        img = cv2.resize(f.image, SIZE, interpolation=cv2.INTER_LINEAR)
        out = Frame(image=img, t=self.i / self.fps, index=self.i, source=self.name)
        self.i += 1
        return out

    def close(self) -> None:
        self.src.close()


def make_runtime(model, **settings):
    from app.live.recognizer import Recognizer
    from app.live.runtime import Runtime, RuntimeSettings

    rec = Recognizer(model, device="cpu", backend=settings.pop("backend", "onnx"))
    return Runtime(settings=RuntimeSettings(**settings), recognizer=rec)


def section_pipeline(model, videos: list[Path], frames: int, every_k: int) -> dict[str, Any]:
    """Every frame in order (no drops): what each stage costs."""
    out = {}
    for v in videos:
        rt = make_runtime(model, every_k=every_k, min_fill=0.25, realtime=False)
        per: dict[str, list[float]] = {k: [] for k in STAGES}
        person = 0
        t0 = time.perf_counter()
        for snap in rt.run(CameraLike(v, frames)):
            tm = snap.timings
            for k in STAGES:
                if k == "model" and not (snap.prediction is not None and snap.prediction.frame_index == snap.frame.index):
                    continue
                per[k].append(tm[k] if k != "total" else tm["decode"] + tm["total"])
            person += snap.skeleton is not None
        wall = time.perf_counter() - t0
        out[v.name] = {"frames": frames, "person_frames": person, "fps": round(frames / wall, 2),
                       "stages_ms": {k: stats(per[k]) for k in STAGES}}
        print(f"pipeline {v.name}: {frames / wall:.1f} fps, pose {out[v.name]['stages_ms']['pose']['median']} ms",
              file=sys.stderr)
    return out


def section_realtime(model, videos: list[Path], frames: int, every_k: int) -> dict[str, Any]:
    """Threaded runtime at camera pace: does it keep up, what is dropped, how late are predictions."""
    out = {}
    for v in videos:
        rt = make_runtime(model, every_k=every_k, min_fill=0.25, realtime=True)
        lat: list[float] = []
        totals: list[float] = []

        def on_snap(s, lat=lat, totals=totals) -> None:
            totals.append(s.timings["total"])
            if s.prediction is not None and s.prediction.frame_index == s.frame.index:
                lat.append(s.prediction.latency_s * 1e3)

        rt.add_listener(on_snap)
        t0 = time.perf_counter()
        rt.open(CameraLike(v, frames))
        rt.wait(frames / CAMERA_FPS * 3 + 30)
        wall = time.perf_counter() - t0
        st = rt.snapshot().stats
        rt.close()
        errors = [str(e) for e in rt.poll_errors()]
        out[v.name] = {
            "camera_fps": CAMERA_FPS, "frames": st.frames, "processed": st.processed, "dropped": st.dropped,
            "processed_fps": round(st.processed / wall, 2), "every_k": every_k,
            "capture_to_prediction_ms": stats(lat), "capture_to_result_ms": stats(totals), "errors": errors[:3],
        }
        print(f"realtime {v.name}: {st.processed}/{st.frames} processed, {st.dropped} dropped, "
              f"latency p90 {out[v.name]['capture_to_prediction_ms']['p90']} ms", file=sys.stderr)
    return out


# -- accuracy ----------------------------------------------------------------------------------------
def section_accuracy(model, data: Path, windows: list[int], ks: list[int], max_clips: int | None) -> dict[str, Any]:
    """NW-UCLA view 3: clip top-1 per window length and backend; per-frame accuracy per every_k."""
    import torch

    from ms2l.data import NWUCLA_FPS, NWUCLA_LABELS
    from ms2l.preprocess import prepare
    from pose_adapters.readers import read_nwucla

    cfg = model.config
    if tuple(cfg.labels) != NWUCLA_LABELS:
        return {"skipped": "the model's labels are not NW-UCLA's"}
    files = sorted(data.glob("*_v03.json"))[:max_clips]
    clips = [read_nwucla(f) for f in files]
    labels = np.array([NWUCLA_LABELS.index(c.label_name) for c in clips])
    cpu = model.cpu().eval()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    run = runners(cpu, "cpu")

    def windows_of(c, W: int, ends: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The windows of the last ``W`` model frames ending at each of ``ends`` -> padded batch."""
        raw = c.joints
        n = len(raw)
        ends = ends if ends is not None else [n - 1]
        xs = []
        for e in ends:
            # Window on the raw skeletons (at the model rate: the release is taken as 15 fps = cfg.fps),
            # normalised on its own as the live runtime does.
            lo = max(0, e - W + 1)
            xs.append(prepare(raw[lo:e + 1], c.confidence[lo:e + 1], cfg, source_fps=NWUCLA_FPS))
        L = torch.tensor([len(w) for w in xs])
        xb = torch.zeros(len(xs), int(L.max()), *xs[0].shape[1:])
        for i, w in enumerate(xs):
            xb[i, :len(w)] = torch.from_numpy(w)
        return xb, L

    res: dict[str, Any] = {"clips": len(clips), "model_window": cfg.window, "window_top1": {}, "backend_top1": {},
                           "every_k_frame_accuracy": {}}
    with torch.inference_mode():
        for W in windows:
            pred = []
            for c in clips:
                xb, L = windows_of(c, W)
                pred.append(int(cpu(xb, L).argmax(1)[0]))
            res["window_top1"][str(W)] = round(100 * float((np.array(pred) == labels).mean()), 2)
            print(f"accuracy window {W}: {res['window_top1'][str(W)]} %", file=sys.stderr)
        W = cfg.window
        for name, fn in run.items():
            pred = [int(np.argmax(fn(windows_of(c, W)[0].numpy()))) for c in clips]
            res["backend_top1"][name] = round(100 * float((np.array(pred) == labels).mean()), 2)
            print(f"accuracy {name}: {res['backend_top1'][name]} %", file=sys.stderr)
        # Streaming: a 30 fps camera shows the clip (two camera frames per model frame); every k-th
        # camera frame classifies the last W model frames; each camera frame shows the latest prediction.
        warm = 8  # model frames before the first prediction (about half a second)
        per_clip = []
        for c in clips:
            n = len(c.joints)
            if n <= warm:
                continue
            ends = list(range(warm - 1, n))
            xb, L = windows_of(c, W, ends)
            p = cpu(xb, L).argmax(1).numpy()  # prediction for a window ending at model frame e
            per_clip.append((p, ends, NWUCLA_LABELS.index(c.label_name)))
        for k in ks:
            correct = total = 0
            for p, ends, y in per_clip:
                cam = np.arange(2 * ends[0], 2 * ends[-1] + 2)  # camera frames while the clip plays
                ran = cam[(cam - cam[0]) % k == 0]  # frames that classified
                latest = ran[np.searchsorted(ran, cam, side="right") - 1]
                model_frame = latest // 2 - ends[0]
                correct += int((p[model_frame] == y).sum())
                total += len(cam)
            res["every_k_frame_accuracy"][str(k)] = round(100 * correct / total, 2)
            print(f"accuracy every_k={k}: {res['every_k_frame_accuracy'][str(k)]} % of frames", file=sys.stderr)
    return res


# -- report ------------------------------------------------------------------------------------------
def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = ["# Live pipeline latency", "",
             f"Measured {r['date']} by `{r['command']}`.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']}, "
             f"ONNX Runtime {m.get('onnxruntime')}, OpenCV {m.get('cv2')}, MediaPipe {m.get('mediapipe')}; "
             f"GPU: {m.get('gpu') or 'none'}; load average at start {m.get('load_average')}.",
             f"Model timed: {r['model_name']}." + (f" {r['note']}" if r.get("note") else ""), ""]
    if "pipeline" in r:
        lines += ["## Per stage, every frame in order (640x480, played as a 30 fps camera)", "",
                  "| video | fps achieved | " + " | ".join(STAGES) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in STAGES) + " |"]
        for v, d in r["pipeline"].items():
            cells = [f"{d['stages_ms'][k]['median']:.2f} / {d['stages_ms'][k]['p90']:.2f}" for k in STAGES]
            lines.append(f"| {v} | {d['fps']} | " + " | ".join(cells) + " |")
        lines += ["", "Cells: median / p90 ms. decode = read + resize to 640x480; total = the sum for one frame. "
                      "The model row only counts frames that ran it "
                      f"(every_k = {r['settings']['every_k']}).", ""]
    if "realtime" in r:
        lines += ["## Threaded runtime at camera pace (30 fps)", "",
                  "| video | frames | processed | dropped | processed fps | capture → prediction ms (median / p90) "
                  "| capture → result ms (median / p90) |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for v, d in r["realtime"].items():
            a, b = d["capture_to_prediction_ms"], d["capture_to_result_ms"]
            lines.append(f"| {v} | {d['frames']} | {d['processed']} | {d['dropped']} | {d['processed_fps']} | "
                         f"{a['median']} / {a['p90']} | {b['median']} / {b['p90']} |")
        lines.append("")
    for key, title in (("model", "Model stage alone (batch 1, ms per call, median / p90)"),
                       ("model_gpu", "Model stage on the GPU (batch 1, ms per call, median / p90)")):
        if key in r:
            ws = sorted({int(w) for d in r[key].values() for w in d}, key=int)
            lines += [f"## {title}", "", "| runner | " + " | ".join(f"T={w}" for w in ws) + " |",
                      "| --- | " + " | ".join("---" for _ in ws) + " |"]
            for name, d in r[key].items():
                lines.append(f"| {name} | " + " | ".join(
                    f"{d[str(w)]['median']:.2f} / {d[str(w)]['p90']:.2f}" if str(w) in d else "" for w in ws) + " |")
            if key == "model_gpu" and "gpu_machine" in r:
                g = r["gpu_machine"]
                lines += ["", f"GPU run on {g.get('gpu')} (torch {g.get('torch')}, {g.get('cpu')})."]
            lines.append("")
    if "amortised" in r:
        W = r["settings"]["window"]
        lines += [f"## Model cost per camera frame, window {W}, classifying every k-th frame (ms)", "",
                  "| runner | " + " | ".join(f"k={k}" for k in (1, 2, 3, 4)) + " |", "| --- | --- | --- | --- | --- |"]
        for name, d in r["amortised"].items():
            lines.append(f"| {name} | " + " | ".join(f"{d[str(k)]:.2f}" for k in (1, 2, 3, 4)) + " |")
        lines.append("")
    acc = r.get("accuracy")
    if acc and "window_top1" in acc:
        rerun = r.get("reruns", {}).get("accuracy")
        lines += [f"## Accuracy cost on NW-UCLA (view 3, {acc['clips']} clips; model: {acc.get('model')})", ""]
        if rerun:
            lines += [f"Measured {rerun['date']} by `{rerun['command']}`.", ""]
        lines += [
                  "| window (frames at 15 fps) | " + " | ".join(acc["window_top1"]) + " |",
                  "| --- | " + " | ".join("---" for _ in acc["window_top1"]) + " |",
                  "| top-1 % (last W frames of each clip) | " + " | ".join(str(v) for v in acc["window_top1"].values()) + " |",
                  "", "| backend (window " + str(acc["model_window"]) + ") | top-1 % |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in acc["backend_top1"].items()]
        lines += ["", "| classify every k-th frame of a 30 fps stream | " + " | ".join(f"k={k}" for k in acc["every_k_frame_accuracy"]) + " |",
                  "| --- | " + " | ".join("---" for _ in acc["every_k_frame_accuracy"]) + " |",
                  "| frames whose shown prediction is right, % | " + " | ".join(str(v) for v in acc["every_k_frame_accuracy"].values()) + " |", ""]
    elif acc:
        lines += ["## Accuracy cost on NW-UCLA", "", f"Not measured: {acc.get('skipped')}.", ""]
    return "\n".join(lines) + "\n"


def command_line(args: list[str]) -> str:
    """The command as run, less the ``--note`` text (shown on its own)."""
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
        elif x == "--note":
            skip = True
        elif not x.startswith("--note="):
            out.append(x)
    return " ".join(["python benchmarks/latency.py", *out])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", default="pipeline,realtime,model,accuracy")
    p.add_argument("--model", default="nwucla", help="model to time and score (default: the NW-UCLA model the figures were measured with; "
                                                       "a random official-size model is timed when it is missing)")
    p.add_argument("--frames", type=int, default=300, help="frames per video in the pipeline sections (default 300 = 10 s)")
    p.add_argument("--every-k", type=int, default=3, help="every_k for the pipeline sections (default 3, the runtime's)")
    p.add_argument("--windows", default="16,32,48,64")
    p.add_argument("--repeats", type=int, default=50, help="timed calls per model-stage cell")
    p.add_argument("--device", default="cpu", help="model section: cpu or cuda")
    p.add_argument("--data", type=Path, default=SHARED / "datasets" / "nw-ucla" / "all_sqe")
    p.add_argument("--max-clips", type=int, help="accuracy: use only this many test clips")
    p.add_argument("--quick", action="store_true", help="short run: 90 frames per video, 15 repeats, 100 clips")
    p.add_argument("--gpu-json", type=Path, help="merge a --device cuda --json result into the report")
    p.add_argument("--merge", action="store_true",
                   help="keep the other sections of the existing benchmarks/results/latency.json (e.g. rerun accuracy only)")
    p.add_argument("--note", default="", help="a line about the model or the conditions, shown in the report")
    p.add_argument("--json", type=Path, help="write the JSON here instead of benchmarks/results/latency.json (no .md)")
    a = p.parse_args(argv)
    if a.quick:
        a.frames, a.repeats, a.max_clips = 90, 15, a.max_clips or 100
    sections = {s.strip() for s in a.sections.split(",") if s.strip()}
    windows = [int(w) for w in a.windows.split(",")]
    model, name = load_or_random(a.model)
    r: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                         "command": command_line(argv if argv is not None else sys.argv[1:]),
                         "machine": machine(), "model_name": name, "note": a.note,
                         "settings": {"every_k": a.every_k, "window": model.config.window, "camera_fps": CAMERA_FPS,
                                      "size": list(SIZE), "backend": "onnx"}}
    videos = sorted((SHARED / "videos").glob("*.avi"))
    if ({"pipeline", "realtime"} & sections) and not videos:
        print(f"no videos in {SHARED / 'videos'}: skipping the pipeline sections", file=sys.stderr)
    if "pipeline" in sections and videos:
        r["pipeline"] = section_pipeline(model, videos, a.frames, a.every_k)
    if "realtime" in sections and videos:
        r["realtime"] = section_realtime(model, videos, a.frames, a.every_k)
    if "model" in sections:
        key = "model" if a.device == "cpu" else "model_gpu"
        r[key] = section_model(model, windows, a.device, a.repeats)
        if key == "model":
            r["amortised"] = amortised(r["model"], model.config.window)
    if a.gpu_json and a.gpu_json.exists():
        g = json.loads(a.gpu_json.read_text())
        r["model_gpu"], r["gpu_machine"] = g.get("model_gpu"), g.get("machine")
    if "accuracy" in sections:
        if name.startswith("random"):
            r["accuracy"] = {"skipped": "no trained model (give --model)"}
        elif not a.data.exists():
            r["accuracy"] = {"skipped": f"{a.data} is missing"}
        else:
            r["accuracy"] = section_accuracy(model, a.data, windows, [1, 2, 3, 4], a.max_clips) | {"model": name}
    if a.merge and (RESULTS / "latency.json").exists():
        old = json.loads((RESULTS / "latency.json").read_text())
        stamp = {"date": r["date"], "command": r["command"], "machine": r["machine"]}
        for key in ("pipeline", "realtime", "model", "amortised", "accuracy"):
            if key in r:
                r.setdefault("reruns", {})[key] = stamp  # when and how each rerun section was measured
        r = {**old, **{k: v for k, v in r.items() if k not in ("date", "command", "machine", "model_name", "note",
                                                                "settings")},
             "reruns": {**old.get("reruns", {}), **r.get("reruns", {})}}
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(r, indent=2) + "\n")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(r, indent=2) + "\n")
    (RESULTS / "latency.md").write_text(markdown(r))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
