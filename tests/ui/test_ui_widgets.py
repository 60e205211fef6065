"""The UI's small widgets and helpers, each on its own (offscreen, no runtime)."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QSettings

from app.ui.model_panel import ModelPanel
from app.models import DEFAULT, list_models
from app.ui.prob_bars import ProbBars, top_k
from app.ui.settings import SettingsDialog, SettingsStore, UiSettings
from app.ui.source_picker import NO_CAMERA, SourcePicker
from app.ui.status import action_text, format_stats, short_name
from app.ui.timeline import TimelineModel
from app.ui.video_view import VideoView, bgr_to_qimage
from test_ui_fakes import LABELS, FakeStats, qimage_array, skeleton_at, state_for


def test_bgr_to_qimage_keeps_colours(qtbot):
    img = np.zeros((4, 6, 3), np.uint8)
    img[..., 2] = 200  # red in BGR
    arr = qimage_array(bgr_to_qimage(img))
    assert arr.shape == (4, 6, 3) and (arr[..., 0] == 200).all() and (arr[..., 2] == 0).all()


def test_video_view_draws_overlay_where_the_skeleton_is(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    frame = np.full((120, 160, 3), 90, np.uint8)
    sk = skeleton_at(0.0)
    view.set_frame(frame, 0.0)
    raw = qimage_array(view.composed())
    view.set_skeleton(sk)
    drawn = qimage_array(view.composed())
    assert view.overlay_drawn()
    changed = np.abs(drawn.astype(int) - raw.astype(int)).sum(axis=2) > 30
    # Drawn on the joints (the head, a knee), untouched far from the figure.
    for x, y in sk.image_points[[3, 13]].round().astype(int):
        assert changed[y, x]
    assert not changed[:, :20].any()
    view.set_overlay(False)
    assert (qimage_array(view.composed()) == raw).all()


def test_video_view_mirror_flips_frame_and_overlay(qtbot):
    view = VideoView(mirror=True)
    qtbot.addWidget(view)
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:, :10] = 255  # a white stripe on the left
    view.set_frame(frame, 0.0)
    arr = qimage_array(view.composed())
    assert arr[:, -10:].min() == 255 and arr[:, :10].max() == 0


def test_video_view_hides_stale_skeleton_and_shows_message(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.set_message("No camera found")
    view.show()
    assert not view.has_frame and view.composed() is None
    view.set_frame(np.zeros((120, 160, 3), np.uint8), t=10.0)
    view.set_skeleton(skeleton_at(0.0))  # ten seconds old: someone who left
    assert not view.overlay_drawn()


def test_top_k_and_bars(qtbot):
    probs = np.array([0.1, 0.5, 0.05, 0.2, 0.1, 0.03, 0.02])
    assert [l for l, _ in top_k(probs, LABELS, 3)] == ["squat", "clap", "jumping jacks"]
    bars = ProbBars(k=5)
    qtbot.addWidget(bars)
    bars.set_probs(probs, LABELS)
    items = bars.items()
    assert len(items) == 5 and items[0] == ("squat", 0.5)
    bars.show()
    bars.grab()  # paints without error
    bars.set_probs(None)
    assert bars.items() == []


def test_timeline_segments_and_30s_window():
    tl = TimelineModel(span_s=30.0)
    for i in range(50):  # 5 s of squats, 5 s of nothing, 40 s of waving at 10 Hz... compressed
        t = i * 1.0
        tl.add(t, "squat" if t < 5 else (None if t < 10 else "wave"))
    assert tl.actions() == ["wave"]  # the squats are more than 30 s old
    assert tl.segments[-1].end == 49.0
    assert all(s.end >= 49.0 - 30 for s in tl.segments)
    tl.add(0.5, "clap")  # time went back: a new source
    assert [s.action for s in tl.segments] == ["clap"]


def test_status_and_action_text():
    line = format_stats(FakeStats(source="/data/clips/a.avi", model="/home/u/models/mine.safetensors",
                                  camera_fps=29.97, processing_fps=15.04, latency_ms=81.4, dropped=3, frames=100))
    for part in ("a.avi", "mine.safetensors", "cpu", "30.0 fps", "15.0 fps", "81 ms", "Dropped: 3"):
        assert part in line
    assert "Camera: –" in format_stats(FakeStats(camera_fps=0.0, frames=0))  # nothing delivered yet: unknown
    assert short_name("camera:0") == "camera:0" and short_name("rtsp://h/x") == "rtsp://h/x"
    big, small = action_text(state_for(1.0, "wave", 0.83))
    assert big == "wave" and "83 %" in small
    assert action_text(state_for(1.0, None))[0] == "Unsure"


def test_settings_roundtrip_through_qsettings(tmp_path, qtbot):
    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert store.load() == UiSettings()
    s = UiSettings(threshold=0.7, smoothing=0.2, window=48, device="cuda", mirror=True, source_mirrored="yes",
                   overlay=False, loop=True)
    store.save(s)
    again = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)).load()
    assert again == s
    dlg = SettingsDialog(again, devices=["cpu"])
    qtbot.addWidget(dlg)
    dlg.threshold.setValue(0.35)
    dlg.overlay.setChecked(True)
    assert dlg.settings() == s.replace(threshold=0.35, overlay=True)
    assert s.runtime_changes({"threshold", "device"}) == {"threshold": 0.7, "device": "cuda"}
    assert s.runtime_changes()["mirror"] is True and UiSettings().runtime_changes()["mirror"] is None
    assert UiSettings().runtime_changes()["window"] is None  # 0: the model's own window
    # A hand-edited file with impossible values is clamped, not passed on to crash the runtime.
    store.qsettings.setValue("live/threshold", 7.0)
    store.qsettings.setValue("live/source_mirrored", "sideways")
    bad = store.load()
    assert bad.threshold == 1.0 and bad.source_mirrored == "auto"


def test_source_picker_without_cameras(qtbot):
    picker = SourcePicker([])
    qtbot.addWidget(picker)
    assert picker.cameras.currentText() == NO_CAMERA and not picker.cameras.isEnabled()
    assert picker.video_button.isEnabled() and picker.folder_button.isEnabled() and picker.url_button.isEnabled()
    picker.set_cameras([0, 2])
    assert picker.camera_specs() == ["camera:0", "camera:2"]
    with qtbot.waitSignal(picker.sourceRequested) as sig:
        picker.cameras.activated.emit(2)
    assert sig.args == ["camera:2"]


def test_source_picker_open_video_uses_the_dialog(qtbot, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    picker = SourcePicker([])
    qtbot.addWidget(picker)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("/tmp/x/clip.mp4", "")))
    with qtbot.waitSignal(picker.sourceRequested) as sig:
        picker.video_button.click()
    assert sig.args == ["/tmp/x/clip.mp4"] and picker.last_dir == "/tmp/x"


def test_model_list_and_card(tmp_path, qtbot):
    (tmp_path / "mine.safetensors").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    entries = list_models(tmp_path, extra=[DEFAULT])
    assert [e.name for e in entries] == ["Default model", "mine"]
    assert entries[0].is_default
    panel = ModelPanel(entries)
    qtbot.addWidget(panel)
    meta = {"config": {"labels": ["wave", "clap"], "fps": 15, "window": 64}, "data": {"dataset": "nw-ucla"},
            "metrics": {"test": {"top1": 81.5, "n": 464, "per_class": {"wave": 90.0, "clap": None}}}}
    panel.set_card(meta, "Default model")
    text = panel.card_text()
    for part in ("Default model", "wave", "clap", "nw-ucla", "81.50"):
        assert part in text
    with qtbot.waitSignal(panel.modelRequested) as sig:
        panel.combo.activated.emit(1)
    assert sig.args == [str((tmp_path / "mine.safetensors").resolve())]


@pytest.mark.parametrize("state,expected", [("no_person", "No one in view"), ("warming_up", "Warming up…")])
def test_non_action_states(state, expected):
    from app.types import ActionState

    s = ActionState(t=0.0, state=state, action=None, probs=np.zeros(len(LABELS)), labels=LABELS)
    assert action_text(s)[0] == expected
