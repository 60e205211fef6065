"""What every benchmark records: medians and p90s, and the machine it ran on."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np


def stats(xs: list[float] | np.ndarray, digits: int = 3) -> dict[str, float]:
    """``{"median", "p90", "n"}`` of ``xs`` (NaN when empty)."""
    a = np.asarray(xs, float)
    if a.size == 0:
        return {"median": float("nan"), "p90": float("nan"), "n": 0}
    return {"median": round(float(np.median(a)), digits), "p90": round(float(np.percentile(a, 90)), digits),
            "n": int(a.size)}


def machine(modules: tuple[str, ...] = ()) -> dict[str, Any]:
    """CPU model, cores, Python, OS and the versions of ``modules`` (None when not importable)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                            "os": platform.platform()}
    for mod in modules:
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informative only
            info[mod] = None
    return info
