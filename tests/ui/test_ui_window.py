"""The main window over a fake runtime (offscreen, no threads, no camera)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings

from app.ui.main_window import HelpDialog, MainWindow
from app.ui.settings import SettingsStore
from test_ui_fakes import LABELS, ExplodingRuntime, FakeRuntime, fake_opener, state_for

META = {"config": {"labels": list(LABELS), "fps": 15.0, "window": 64, "layout": "ntu25"},
        "data": {"dataset": "nw-ucla", "split": "views 1+2"},
        "metrics": {"test": {"top1": 80.0, "n": 464, "per_class": {}}}}


def fake_metadata(spec: str) -> dict:
    if "broken" in spec or "missing" in spec:
        raise ValueError(f"no model file at {spec}")
    return META | {"description": f"card of {Path(spec).stem}"}


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    (d / "mine.safetensors").write_bytes(b"")
    return d


def make_window(qtbot, tmp_path: Path, models_dir: Path, runtime=None, cameras=(), opener=fake_opener,
                **kw) -> MainWindow:
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(runtime or FakeRuntime(), cameras=cameras, open_source=opener, store=store,
                     models_dir=models_dir, read_metadata=fake_metadata, poll_ms=10, **kw)
    qtbot.addWidget(win)
    win.show()
    return win


def open_and_wait(qtbot, win: MainWindow, spec: str) -> None:
    """Ask for ``spec`` and wait until the window has finished opening it (or failed to)."""
    win.open_source(spec)
    qtbot.waitUntil(lambda: not win.opening, timeout=3000)


def test_opens_without_camera_and_says_so(qtbot, tmp_path, models_dir):
    win = make_window(qtbot, tmp_path, models_dir)
    qtbot.wait(50)
    assert not win.video.has_frame
    assert "No camera found" in win.video.message
    assert "Open a video file" in win.video.message
    assert not win.picker.cameras.isEnabled()
    assert win.picker.video_button.isEnabled() and win.picker.url_button.isEnabled()
    assert win.action_label.text() == "–" and win.bars.items() == []
    win.grab()  # the empty state paints


def test_with_cameras_offers_them(qtbot, tmp_path, models_dir):
    win = make_window(qtbot, tmp_path, models_dir, cameras=[0, 1])
    assert win.picker.camera_specs() == ["camera:0", "camera:1"]
    assert "Choose a camera" in win.video.message
    win.picker.cameras.activated.emit(1)
    qtbot.waitUntil(lambda: win.source_spec == "camera:0", timeout=3000)


def test_fake_source_frames_reach_the_view(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "red.avi")
    assert win.source_spec == "red.avi"
    qtbot.waitUntil(lambda: win.video.has_frame, timeout=2000)
    img = win.video.composed()
    assert img.pixelColor(5, 5).red() > 200 and img.pixelColor(5, 5).blue() < 30
    n = rt.source.index
    qtbot.waitUntil(lambda: rt.source.index > n + 2, timeout=2000)  # the timer keeps polling
    assert "red.avi" in win.status_label.text() and "42 ms" in win.status_label.text()


def test_predictions_update_label_bars_and_timeline(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "green.avi")
    rt.push_state(state_for(1.0, "squat", 0.9))
    qtbot.waitUntil(lambda: win.action_label.text() == "squat", timeout=2000)
    assert "90 %" in win.detail_label.text()
    assert win.bars.items()[0] == ("squat", pytest.approx(0.9))
    assert len(win.bars.items()) == 5
    rt.push_state(state_for(2.0, "wave", 0.7))
    qtbot.waitUntil(lambda: win.action_label.text() == "wave", timeout=2000)
    rt.push_state(state_for(3.0, None))
    qtbot.waitUntil(lambda: win.action_label.text() == "Unsure", timeout=2000)
    assert win.timeline.model.actions() == ["squat", "wave"]
    assert win.timeline.model.segments[-1].action is None
    win.grab()


def test_switching_source(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "red.avi")
    rt.push_state(state_for(1.0, "squat"))
    qtbot.waitUntil(lambda: win.timeline.model.actions() == ["squat"], timeout=2000)
    first = rt.source
    win.picker.request("blue.avi")
    qtbot.waitUntil(lambda: not win.opening, timeout=3000)
    assert win.source_spec == "blue.avi" and first.closed and len(rt.opened) == 2
    assert win.timeline.model.segments == []  # the old source's history is gone
    qtbot.waitUntil(lambda: win.video.has_frame and win.video.composed().pixelColor(5, 5).blue() > 200, timeout=2000)


def test_bad_source_is_a_message_not_a_crash(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "red.avi")
    open_and_wait(qtbot, win, "bad.avi")
    assert "not a video OpenCV can decode" in win.errors[-1]
    assert win.error_box is not None and win.error_box.isVisible()
    assert "bad.avi" in win.error_box.text()
    assert win.source_spec == "red.avi"  # still showing the old one
    assert win.statusBar().currentMessage() == win.errors[-1]


def test_slow_source_does_not_block_and_newer_request_wins(qtbot, tmp_path, models_dir):
    gate = threading.Event()
    opened: list = []

    def opener(spec, **kw):
        if "slow" in spec:
            gate.wait(5)  # a camera or stream that takes its time to answer
        src = fake_opener(spec, **kw)
        opened.append(src)
        return src

    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt, opener=opener)
    win.open_source("rtsp://slow/red")
    n = rt.snapshots
    qtbot.waitUntil(lambda: rt.snapshots > n + 3, timeout=2000)  # the GUI keeps polling meanwhile
    assert win.opening and "Opening" in win.video.message
    open_and_wait(qtbot, win, "green.avi")
    assert win.source_spec == "green.avi"
    gate.set()
    qtbot.waitUntil(lambda: len(opened) == 2 and opened[-1].closed, timeout=2000)
    assert rt.source.name == "green.avi" and not rt.source.closed  # the late one was discarded


def test_switching_model(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    assert win.model_panel.specs()[0] == "default"
    assert "nw-ucla" in win.model_panel.card_text()
    mine = str((models_dir / "mine.safetensors").resolve())
    i = win.model_panel.specs().index(mine)
    win.model_panel.combo.setCurrentIndex(i)
    win.model_panel.combo.activated.emit(i)
    assert rt.models == [mine] and win.model == mine
    assert "card of mine" in win.model_panel.card_text()
    assert win.store.value("model") == mine


def test_broken_model_is_refused_with_a_message(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    (models_dir / "broken.safetensors").write_bytes(b"")
    assert not win.add_model(str(models_dir / "broken.safetensors"))
    assert "Cannot use model broken.safetensors" in win.errors[-1]
    assert win.model == "default" and win.model_panel.current() == "default"


def test_add_model_copies_into_user_folder(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    outside = tmp_path / "elsewhere" / "theirs.safetensors"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    assert win.add_model(str(outside))
    assert (models_dir / "theirs.safetensors").exists()
    assert win.model == str((models_dir / "theirs.safetensors").resolve())
    assert win.model in win.model_panel.specs()


def test_switching_model_in_the_background(qtbot, tmp_path, models_dir):
    rt = FakeRuntime(async_models=True)
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    mine = str((models_dir / "mine.safetensors").resolve())
    assert win.set_model(mine)
    assert win.model_loading and win.model == "default" and win.model_panel.current() == mine
    rt.finish_load()
    qtbot.waitUntil(lambda: win.model == mine, timeout=2000)
    assert "card of mine" in win.model_panel.card_text()
    # A model that fails to load: the runtime reports it, the picker goes back.
    (models_dir / "broken.safetensors").write_bytes(b"")
    win.refresh_models()
    assert win.set_model(str(models_dir / "broken.safetensors"))
    rt.finish_load()
    qtbot.waitUntil(lambda: not win.model_loading, timeout=2000)
    assert win.model == mine and win.model_panel.current() == mine
    assert "weights do not match" in win.errors[-1]


def test_runtime_error_shows_message_and_app_keeps_running(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "red.avi")
    rt.push_error(RuntimeError("camera:0 stopped delivering frames"))
    qtbot.waitUntil(lambda: bool(win.errors), timeout=2000)
    assert "stopped delivering frames" in win.errors[-1]
    assert win.error_box.isVisible()
    n = rt.snapshots
    qtbot.waitUntil(lambda: rt.snapshots > n + 3, timeout=2000)  # still polling
    rt.push_state(state_for(5.0, "clap"))
    qtbot.waitUntil(lambda: win.action_label.text() == "clap", timeout=2000)
    rt.push_error(RuntimeError("again"))
    qtbot.waitUntil(lambda: len(win.errors) == 2, timeout=2000)
    assert win.error_box.text() == win.errors[-1]  # one box, newest message


def test_exploding_snapshot_does_not_kill_the_window(qtbot, tmp_path, models_dir):
    rt = ExplodingRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt, dialogs=False)
    qtbot.waitUntil(lambda: rt.snapshots > 3, timeout=2000)
    assert "pose worker crashed" in win.errors[-1]
    assert win.error_box is None and win.isVisible()


def test_pause_resume_and_loop(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    win.loop_action.setChecked(True)
    open_and_wait(qtbot, win, "red.avi")
    assert rt.source.loop
    win.pause_action.trigger()
    assert rt.paused and win.paused and "Resume" in win.pause_action.text()
    win.pause_action.trigger()
    assert not rt.paused
    win.loop_action.setChecked(False)  # applies to the file playing now
    assert not rt.source.loop


def test_settings_are_applied_and_persisted(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    assert rt.updates and "threshold" in rt.updates[0]  # initial settings pushed
    n = len(rt.updates)
    win.mirror_action.setChecked(True)  # display only: the runtime is not told
    win.overlay_action.setChecked(False)
    assert win.video.mirror and not win.video.overlay and len(rt.updates) == n
    win.change_settings(threshold=0.65, window=32)
    assert rt.updates[-1] == {"threshold": 0.65, "window": 32}
    win.change_settings(source_mirrored="yes")  # the pose stage must swap left/right back
    assert rt.updates[-1] == {"mirror": True}
    again = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)).load()
    assert (again.mirror, again.overlay, again.threshold, again.window) == (True, False, 0.65, 32)
    win2 = make_window(qtbot, tmp_path, models_dir)
    assert win2.mirror_action.isChecked() and not win2.overlay_action.isChecked()


def test_help_lists_shortcuts(qtbot, tmp_path, models_dir):
    win = make_window(qtbot, tmp_path, models_dir)
    dlg = HelpDialog(win.shortcut_actions(), win)
    qtbot.addWidget(dlg)
    rows = dict((text, key) for key, text in dlg.shortcuts())
    assert rows["Pause"] == "Space" and rows["Open video…"] == "Ctrl+O"
    assert "Keyboard shortcuts" in rows


def test_overlay_drawn_in_window(qtbot, tmp_path, models_dir):
    rt = FakeRuntime(draw_skeleton=True)
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    open_and_wait(qtbot, win, "green.avi")
    qtbot.waitUntil(lambda: win.video.overlay_drawn(), timeout=2000)
    rt.paused = True  # hold the frame still while comparing
    with_overlay = win.video.grab().toImage()
    win.overlay_action.setChecked(False)
    without = win.video.grab().toImage()
    assert with_overlay != without


def test_reconnect_reopens_the_lost_source(qtbot, tmp_path, models_dir):
    rt = FakeRuntime()
    win = make_window(qtbot, tmp_path, models_dir, runtime=rt)
    win.reconnect()  # nothing opened yet: says so, opens nothing
    assert rt.opened == [] and "Nothing to reconnect" in win.statusBar().currentMessage()
    open_and_wait(qtbot, win, "red.avi")
    rt.push_error(RuntimeError("camera:0 stopped delivering frames"))
    qtbot.waitUntil(lambda: bool(win.errors), timeout=2000)
    first = rt.source
    win.reconnect_action.trigger()
    qtbot.waitUntil(lambda: not win.opening and len(rt.opened) == 2, timeout=3000)
    assert win.source_spec == "red.avi" and first.closed and rt.source is not first
    assert any("Reconnect" in text for _, text in HelpDialog(win.shortcut_actions()).shortcuts())
