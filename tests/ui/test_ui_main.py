"""The ``ms2l-live`` entry point and the background runtime holder (fakes; no model, no camera)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import pytest
from PyQt6.QtGui import QImage

from app.ui import main as ui_main
from app.errors import NoModelError
from app.live.holder import RuntimeHolder
from test_ui_fakes import FakeRuntime, FakeSource, FakeSnapshot


@dataclass(frozen=True)
class Settings:
    threshold: float = 0.5
    device: str = "auto"

    def replace(self, **kw):
        return replace(self, **kw)


def test_holder_opens_a_source_given_while_loading():
    gate = threading.Event()
    made: list[FakeRuntime] = []

    def factory(model, settings):
        gate.wait(5)
        rt = FakeRuntime(model)
        made.append(rt)
        return rt

    h = RuntimeHolder(factory, "default", Settings(), empty_snapshot=lambda s, m: FakeSnapshot())
    assert h.loading and h.runtime is None
    src = FakeSource("clip.avi")
    h.open(src)  # remembered, not lost
    h.update_settings(threshold=0.7)
    assert h.settings.threshold == 0.7
    assert h.snapshot().frame is None
    gate.set()
    assert h.wait_loaded(5)
    assert made[0].source is src and h.snapshot().frame is not None
    assert made[0].updates == [{"threshold": 0.7}]  # the change made while loading reached it
    h.close()
    assert made[0].closed


def test_holder_reports_a_failed_load_and_recovers_with_another_model():
    def factory(model, settings):
        if model == "default":
            raise FileNotFoundError("the default model is missing: assets/default.safetensors")
        return FakeRuntime(model)

    h = RuntimeHolder(factory, "default", Settings(), background=False)
    errors = h.poll_errors()
    assert len(errors) == 1 and "default model is missing" in str(errors[0])
    with pytest.raises(NoModelError, match="pick one"):
        h.open(FakeSource())
    fut = h.set_model("mine.safetensors")
    assert fut.done() and fut.exception() is None
    assert h.runtime.model == "mine.safetensors"
    h.open(FakeSource())
    assert h.runtime.opened


def test_holder_retries_a_failed_load_on_another_device():
    def factory(model, settings):
        if settings.device == "cuda":
            raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU")
        return FakeRuntime(model)

    h = RuntimeHolder(factory, "default", Settings(device="cuda"), background=False)
    assert "no CUDA GPU" in str(h.poll_errors()[0]) and h.runtime is None
    h.update_settings(threshold=0.6)  # not a reason to try again
    assert h.runtime is None and h.poll_errors() == []
    h.update_settings(device="cpu")
    assert h.runtime is not None and h.runtime.model == "default"


def test_snapshot_cli_saves_the_window(qtbot, tmp_path, monkeypatch):
    made: list[FakeRuntime] = []

    def factory(model, settings):
        rt = FakeRuntime(model, draw_skeleton=True)
        made.append(rt)
        return rt

    monkeypatch.setattr(ui_main, "_make_runtime", factory)
    monkeypatch.setattr("app.live.sources.list_cameras", lambda max_index=5: [])
    monkeypatch.setattr("app.live.sources.open_source", lambda spec, **kw: FakeSource(spec, color=(0, 160, 0)))
    monkeypatch.setattr(ui_main, "_empty_snapshot", lambda s, m: FakeSnapshot())
    out = tmp_path / "live.png"
    rc = ui_main.main(["--source", "green.avi", "--model", "mine.safetensors", "--snapshot", str(out),
                       "--exit-after", "0.5"])
    assert rc == 0 and out.exists()
    img = QImage(str(out))
    assert img.width() >= 800 and img.height() >= 500
    assert made and made[0].model == "mine.safetensors" and made[0].closed
    assert made[0].source.name == "green.avi"


def test_parser_defaults():
    a = ui_main.build_parser().parse_args([])
    assert a.source is None and a.model is None and a.snapshot is None and a.exit_after is None
