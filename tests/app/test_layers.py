"""The layers hold at run time too: the CLI and every non-UI module load no Qt, and the library loads no app."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PROBE = r"""
import importlib, json, pkgutil, sys
import app, ms2l, pose_adapters
roots = sys.argv[1].split(",")
loaded = []
for pkg in [importlib.import_module(r) for r in roots]:
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name.startswith("app.ui") or m.name.endswith("__main__"):
            continue
        importlib.import_module(m.name)
        loaded.append(m.name)
if sys.argv[2] == "app":
    from app.cli import build_parser
else:
    from ms2l.cli import build_parser
build_parser().parse_args(["evaluate", "--data", "x"])
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""


def _probe(roots: str, parser: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run([sys.executable, "-c", _PROBE, roots, parser], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_every_non_ui_module_and_the_cli_load_no_qt():
    out = _probe("pose_adapters,ms2l,app", "app")
    assert len(out["loaded"]) > 40  # the walk really imported the tree
    assert "app.live.runtime" in out["loaded"] and "app.cli.clips" in out["loaded"]
    qt = [m for m in out["modules"] if m.split(".")[0] == "PyQt6"]
    assert qt == [], f"PyQt6 loaded outside app.ui: {qt[:5]}"


def test_the_library_loads_no_app():
    out = _probe("pose_adapters,ms2l", "ms2l")
    assert "ms2l.train" in out["loaded"] and "ms2l.data.ntu" in out["loaded"]
    leaked = [m for m in out["modules"] if m == "app" or m.startswith("app.")]
    assert leaked == [], f"ms2l imported the app: {leaked[:5]}"


def test_the_probe_sees_a_qt_import():
    """Positive control: the same probe does report PyQt6 once a UI module is imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    code = "import sys, app.ui.prob_bars; print(any(m.split('.')[0] == 'PyQt6' for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "True"


def test_import_contracts_hold():
    """``lint-imports`` (the contracts in pyproject.toml) passes; CI runs it too."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed in this environment (pip install -e '.[test]')")
    r = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "0 broken" in r.stdout
