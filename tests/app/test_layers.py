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


def test_model_names_resolve_without_their_suffix(tmp_path, monkeypatch):
    """`ms2l train --out runs/mine` writes runs/mine.safetensors; `--model runs/mine` finds it."""
    from ms2l.checkpoint import resolve_model, save_model
    from ms2l.config import ModelConfig
    from ms2l.errors import ModelFileError
    from ms2l.model import MS2L

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    written = save_model(MS2L(ModelConfig(hidden=8, layers=1, labels=("a", "b"))), tmp_path / "runs" / "mine.safetensors")
    assert resolve_model("runs/mine").resolve() == written.resolve()
    assert resolve_model("runs/mine.safetensors").resolve() == written.resolve()
    with pytest.raises(ModelFileError, match="no model file at runs/other"):
        resolve_model("runs/other")
    with pytest.raises(ModelFileError, match="is a folder"):
        resolve_model("runs")


def test_missing_qt_xcb_libraries_are_named(monkeypatch):
    from app.ui import main as ui_main

    monkeypatch.setattr(ui_main.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert ui_main.missing_xcb_packages(lambda lib: lib != "libxcb-cursor.so.0") == ["libxcb-cursor0"]
    assert ui_main.missing_xcb_packages(lambda lib: True) == []
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # headless: no xcb plugin is loaded
    assert ui_main.missing_xcb_packages(lambda lib: False) == []


def test_ms2l_live_says_which_package_to_install(monkeypatch, caplog):
    from app.ui import main as ui_main

    monkeypatch.setattr(ui_main, "missing_xcb_packages", lambda: ["libxcb-cursor0"])
    monkeypatch.setattr("PyQt6.QtWidgets.QApplication.instance", staticmethod(lambda: None))
    with caplog.at_level("ERROR", logger="ms2l-live"):
        assert ui_main.main(["--source", "nothing.mp4"]) == 2
    assert "sudo apt install libxcb-cursor0" in caplog.text


def test_export_writes_onnx_and_card(tmp_path, capsys):
    import onnx

    from app.cli import main

    out = tmp_path / "deploy" / "model"
    assert main(["export", "default", "--onnx", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    onnx_path = Path(summary["onnx"])
    assert onnx_path == out.with_name("model.onnx") and onnx_path.exists()
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    card = onnx_path.with_suffix(".md").read_text()
    assert "## Labels" in card and summary["labels"][0] in card
    assert main(["export", "nope", "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "no model file at nope" in capsys.readouterr().err
