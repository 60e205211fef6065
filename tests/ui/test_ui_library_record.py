"""Recording takes in the live window (offscreen, a fake runtime standing in for camera and pose)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt

from app.clips import Library
from app.clips.recording import Take, trim_bounds
from app.types import Skeleton
from app.ui.main_window import MainWindow
from app.ui.record import COUNTDOWN, IDLE, NEW_LABEL, RECORDING, TRIMMING, RecordPanel
from app.ui.settings import SettingsStore
from test_ui_fakes import FakeRuntime, FakeSource, fake_opener


@pytest.fixture
def runtime() -> FakeRuntime:
    rt = FakeRuntime(draw_skeleton=True)
    rt.open(FakeSource(name="camera:0"))
    return rt


def make_panel(qtbot, runtime, tmp_path, **kw) -> RecordPanel:
    lib = Library(tmp_path / "lib")
    panel = RecordPanel(runtime.snapshot, lib, **{"countdown_s": 0.3, "ask_label": lambda w: " jumping  jacks ", **kw})
    qtbot.addWidget(panel)
    panel.show()
    return panel


def choose_new_label(panel: RecordPanel) -> None:
    i = panel.label.findText(NEW_LABEL)
    panel.label.setCurrentIndex(i)
    panel.label.activated.emit(i)


def test_take_and_trim_bounds():
    take = Take()
    sk = Skeleton(0.0, 0, np.ones((25, 3), np.float32), np.ones(25, np.float32))
    for i, s in enumerate([None, sk, sk, None, sk, None]):
        assert take.add(i / 10, s)
    assert not take.add(0.2, sk)  # time went backwards: ignored
    assert trim_bounds(take.seen) == (1, 5)
    j, c, t = take.arrays(1, 5)
    assert j.shape == (4, 25, 3) and c[2].sum() == 0 and t[0] == pytest.approx(0.1)
    assert trim_bounds(np.zeros(3, bool)) == (0, 0)


def test_record_fixed_length_with_countdown_new_label_and_trim(qtbot, runtime, tmp_path):
    panel = make_panel(qtbot, runtime, tmp_path)
    assert panel.current_label() is None  # an empty library offers only "New label…"
    assert not panel.start() and "Choose the action" in panel.status.text()
    choose_new_label(panel)
    assert panel.current_label() == "jumping jacks"
    panel.duration.setValue(0.6)
    states = []
    panel.stateChanged.connect(states.append)
    panel.toggle()
    assert panel.state == COUNTDOWN and panel.indicator.text() == "3…"
    qtbot.waitUntil(lambda: panel.state == RECORDING, timeout=3000)
    assert "REC" in panel.indicator.text() and not panel.label.isEnabled()
    qtbot.waitUntil(lambda: panel.state == TRIMMING, timeout=5000)  # stopped by itself
    dlg = panel.trim_dialog
    n = len(panel.take)
    assert n >= 5 and dlg.bounds() == (0, n)
    dlg.first.setValue(3)  # drop the first two frames
    with qtbot.waitSignal(panel.clipSaved, timeout=2000) as saved:
        dlg.accept()
    clip = panel.library.get(saved.args[0])
    assert clip.label == "jumping jacks" and clip.frames == n - 2 and clip.source == "camera:0"
    assert clip.preview is not None and clip.confidence.max() == pytest.approx(1.0)
    assert states == [COUNTDOWN, RECORDING, TRIMMING, IDLE]
    assert panel.label.currentText() == "jumping jacks (1)" and "Saved clip" in panel.status.text()


def test_stop_on_press_cancel_and_nobody_in_view(qtbot, runtime, tmp_path):
    panel = make_panel(qtbot, runtime, tmp_path, countdown_s=0, trim=False)
    choose_new_label(panel)
    panel.until.setChecked(True)
    panel.toggle()
    assert panel.state == RECORDING
    qtbot.wait(300)
    assert panel.state == RECORDING  # no fixed length: it waits for the press
    with qtbot.waitSignal(panel.clipSaved, timeout=2000):
        panel.toggle()
    assert len(panel.library) == 1
    # Escape hatch: a recording can be abandoned.
    panel.toggle()
    panel.cancel()
    assert panel.state == IDLE and len(panel.library) == 1
    # Nobody in view: nothing is saved, and the user is told.
    runtime.draw_skeleton = False
    panel.toggle()
    qtbot.wait(100)
    panel.toggle()
    assert panel.state == IDLE and len(panel.library) == 1 and "Nobody was in view" in panel.status.text()


def test_trim_dialog_cancel_discards(qtbot, runtime, tmp_path):
    panel = make_panel(qtbot, runtime, tmp_path, countdown_s=0)
    choose_new_label(panel)
    panel.until.setChecked(True)
    panel.toggle()
    qtbot.wait(150)
    panel.toggle()
    assert panel.state == TRIMMING
    panel.trim_dialog.reject()
    assert panel.state == IDLE and len(panel.library) == 0 and "discarded" in panel.status.text()


def test_window_hotkey_records_into_the_library(qtbot, tmp_path):
    rt = FakeRuntime(draw_skeleton=True)
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(rt, open_source=fake_opener, store=store, models_dir=tmp_path / "models",
                     read_metadata=lambda spec: {}, poll_ms=10, library=tmp_path / "lib")
    qtbot.addWidget(win)
    win.show()
    ui = win.library_ui
    assert ui is not None and ui.dock.isVisible() and "R" in [a.shortcut().toString() for a in ui.actions()]
    ui.library.add(np.zeros((3, 25, 3)), label="wave")
    ui.record.refresh_labels()
    ui.record.countdown_s = 0
    ui.record.until.setChecked(True)
    win.open_source("green.avi")
    qtbot.waitUntil(lambda: not win.opening, timeout=3000)
    ui.record_action.trigger()  # the R hotkey's action
    assert ui.record.state == RECORDING
    qtbot.wait(200)
    ui.record_action.trigger()
    assert ui.record.state == TRIMMING
    ui.record.trim_dialog.accept()
    assert ui.library.labels() == {"wave": 2}
    assert [c.source for c in ui.library.clips()][-1] == "green.avi"
    assert "Saved clip" in win.statusBar().currentMessage()


def test_window_without_library_is_unchanged(qtbot, tmp_path):
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(FakeRuntime(), open_source=fake_opener, store=store, models_dir=tmp_path,
                     read_metadata=lambda spec: {}, poll_ms=10)
    qtbot.addWidget(win)
    assert win.library_ui is None
    bad = tmp_path / "file"
    bad.write_text("x")
    win2 = MainWindow(FakeRuntime(), open_source=fake_opener, store=store, models_dir=tmp_path,
                      read_metadata=lambda spec: {}, poll_ms=10, library=bad, dialogs=False)
    qtbot.addWidget(win2)
    assert win2.library_ui is None and "clip library cannot be opened" in win2.errors[-1]
    assert "is a file, not a library folder" in win2.errors[-1]


def test_ms2l_live_takes_a_library_option():
    from app.ui.main import build_parser

    assert build_parser().parse_args(["--library", "/tmp/lib"]).library == "/tmp/lib"
    assert build_parser().parse_args([]).library is None


def test_a_take_follows_one_person_and_their_vanishing_leaves_a_consistent_library(qtbot, tmp_path):
    """Several people: frames where the person the take began with is not the selected one are nobody."""
    from types import SimpleNamespace

    sk = Skeleton(0.0, 0, np.ones((25, 3), np.float32), np.ones(25, np.float32))
    state = {"i": 0}

    def snapshot():
        i = state["i"]
        state["i"] += 1
        # person 7 is followed for 10 frames, then vanishes (person 9 is selected instead)
        sel = 7 if i < 10 else 9
        frame = SimpleNamespace(t=i / 30, index=i, image=np.zeros((48, 64, 3), np.uint8))
        return SimpleNamespace(frame=frame, skeleton=sk, selected=sel, stats=SimpleNamespace(source="camera:0"))

    lib = Library(tmp_path / "lib")
    panel = RecordPanel(snapshot, lib, countdown_s=0, trim=False, ask_label=lambda w: "wave")
    qtbot.addWidget(panel)
    choose_new_label(panel)
    panel.until.setChecked(True)
    panel.toggle()
    qtbot.waitUntil(lambda: state["i"] > 25, timeout=5000)
    with qtbot.waitSignal(panel.clipSaved, timeout=3000) as saved:
        panel.toggle()
    clip = lib.get(saved.args[0])
    assert clip.frames <= 10  # trimmed to the person it began with; never person 9's frames
    assert lib.check() == [] and len(lib) == 1
