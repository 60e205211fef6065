"""The fine-tune dialog on real NW-UCLA clips (tiny encoder): progress, result, cancel, make live."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PyQt6.QtCore import QSettings

from app.clips import Library
from app.ui.main_window import MainWindow
from app.ui.settings import SettingsStore
from app.ui.train_dialog import TrainDialog
from ms2l.checkpoint import load_model, save_model
from ms2l.config import ModelConfig
from ms2l.model import MS2L
from test_ui_fakes import FakeRuntime, fake_opener

ACTIONS = ("01", "04", "05")


@pytest.fixture
def library(tmp_path, nwucla_dir) -> Library:
    lib = Library(tmp_path / "lib")
    for a in ACTIONS:
        # 5 clips per action: the hold-out path (fewer are cross-validated: tests/app/test_finetune_fewshot.py)
        for f in sorted(nwucla_dir.glob(f"a{a}_s0[12]_*_v0[12].json"))[:5]:
            lib.import_skeleton_file(f)
    return lib


def make_dialog(qtbot, library, tmp_path, tiny_encoder, parent=None) -> TrainDialog:
    dlg = TrainDialog(library, registry=tmp_path / "models", encoder=str(tiny_encoder), parent=parent)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_train_reports_progress_and_shows_the_result(qtbot, library, tmp_path, tiny_encoder):
    dlg = make_dialog(qtbot, library, tmp_path, tiny_encoder)
    assert dlg.labels.count() == 3 and dlg.strategy.currentData() == "finetune"
    assert dlg.epochs.text() == "automatic"
    dlg.epochs.setValue(3)
    with qtbot.waitSignal(dlg.finishedRun, timeout=120000) as done:
        assert dlg.start()
        assert dlg.running and not dlg.train_button.isEnabled() and dlg.cancel_button.isEnabled()
    result = done.args[0]
    assert result is not None and dlg.result is result and result.model_path.exists()
    train_events = [e for e in dlg.events if e["phase"] == "train"]
    assert [e["epoch"] for e in train_events] == list(range(1, 104))  # 100 probe epochs, then 3
    assert dlg.progress.value() == 1 and len(dlg.plot.loss) == 103 and len(dlg.plot.val_acc) == 103
    assert dlg.per_class.rowCount() == 3 and dlg.confusion.rowCount() == dlg.confusion.columnCount() == 3
    total = sum(int(dlg.confusion.item(i, j).text()) for i in range(3) for j in range(3))
    assert total == result.n_val == 3
    assert "validation top-1" in dlg.summary.text() and dlg.live_button.isEnabled()
    assert "None of these: accepts" in dlg.summary.text() and "(leave-one-out)" in dlg.summary.text()
    model, _ = load_model(result.model_path)
    assert set(model.config.labels) == {"pick up with one hand", "walk around", "sit down"}
    dlg.plot.grab()


def test_only_ticked_labels_and_two_at_least(qtbot, library, tmp_path, tiny_encoder):
    from PyQt6.QtCore import Qt

    dlg = make_dialog(qtbot, library, tmp_path, tiny_encoder)
    for i in range(2):
        dlg.labels.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not dlg.start() and "at least two" in dlg.status.text()
    dlg.labels.item(0).setCheckState(Qt.CheckState.Checked)
    spec = dlg.spec()
    assert len(spec.labels) == 2 and spec.epochs is None and spec.encoder == str(tiny_encoder)


def test_cancel_stops_the_job_and_saves_nothing(qtbot, library, tmp_path, tiny_encoder):
    dlg = make_dialog(qtbot, library, tmp_path, tiny_encoder)
    dlg.strategy.setCurrentIndex(dlg.strategy.findData("joint"))
    dlg.epochs.setValue(400)
    with qtbot.waitSignal(dlg.finishedRun, timeout=120000) as done:
        dlg.start()
        qtbot.waitUntil(lambda: any(e["phase"] == "train" for e in dlg.events), timeout=60000)
        dlg.cancel_button.click()
    assert done.args[0] is None and dlg.result is None and "cancelled" in dlg.status.text()
    assert max(e.get("epoch", 0) for e in dlg.events) < 500
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    assert dlg.train_button.isEnabled() and not dlg.live_button.isEnabled()


def test_make_live_switches_the_window_to_the_new_model(qtbot, library, tmp_path, tiny_encoder):
    rt = FakeRuntime()
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(rt, open_source=fake_opener, store=store, models_dir=tmp_path / "models",
                     read_metadata=lambda spec: {"config": {"labels": []}}, poll_ms=10, library=library)
    qtbot.addWidget(win)
    win.show()
    dlg = win.library_ui.show_train()
    dlg.encoder = str(tiny_encoder)
    dlg.strategy.setCurrentIndex(dlg.strategy.findData("linear"))
    dlg.epochs.setValue(5)
    with qtbot.waitSignal(dlg.finishedRun, timeout=120000) as done:
        dlg.start()
    path = str(done.args[0].model_path)
    assert Path(path).parent == tmp_path / "models"  # the window's model registry
    dlg.live_button.click()
    assert rt.models[-1] == path and win.model == path
    assert str(Path(path).resolve()) in win.model_panel.specs()
    assert np.isfinite(done.args[0].validation["top1"])
