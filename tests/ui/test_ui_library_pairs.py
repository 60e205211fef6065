"""Recording and browsing two-person clips (offscreen, fake snapshots standing in for the tracked people)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from app.clips import Library
from app.types import Skeleton
from app.ui.library_browser import LibraryBrowser
from app.ui.record import IDLE, NEW_LABEL, TRIMMING, RecordPanel
from fakes import body


def skeleton(t: float, x: float) -> Skeleton:
    return Skeleton(t, 0, body(t) + np.array([x, 0, 0], np.float32), np.ones(25, np.float32))


class People:
    """Snapshots of three tracked people: 1 (selected), 2 beside them and 3 far off; 2 leaves at frame ``leave``."""

    def __init__(self, leave: int = 10**9) -> None:
        self.i, self.leave = 0, leave

    def __call__(self):
        i, t = self.i, self.i / 30
        self.i += 1
        here = {1: 100, 2: 220, 3: 900} if i < self.leave else {1: 100, 3: 900}
        people = tuple(SimpleNamespace(id=p, box=np.array([x - 50, 100, x + 50, 300], np.float32),
                                       skeleton=skeleton(t, x / 100), partner=None) for p, x in here.items())
        frame = SimpleNamespace(t=t, index=i, image=np.zeros((48, 64, 3), np.uint8))
        return SimpleNamespace(frame=frame, skeleton=people[0].skeleton, selected=1, persons=people,
                               stats=SimpleNamespace(source="camera:0"))


def panel_for(qtbot, tmp_path, snapshot, **kw) -> RecordPanel:
    panel = RecordPanel(snapshot, Library(tmp_path / "lib"), **{"countdown_s": 0, "trim": False,
                                                                "ask_label": lambda w: "handshake", **kw})
    qtbot.addWidget(panel)
    i = panel.label.findText(NEW_LABEL)
    panel.label.setCurrentIndex(i)
    panel.label.activated.emit(i)
    panel.until.setChecked(True)
    return panel


def record(qtbot, panel: RecordPanel, snapshot: People, frames: int = 25):
    panel.toggle()
    qtbot.waitUntil(lambda: snapshot.i > frames, timeout=5000)
    if panel.trim:
        panel.toggle()
        return None
    with qtbot.waitSignal(panel.clipSaved, timeout=3000) as saved:
        panel.toggle()
    return panel.library.get(saved.args[0])


def test_a_two_person_model_records_the_selected_pair_and_a_partner_leaving_stays_consistent(qtbot, tmp_path):
    people = People(leave=10)
    panel = panel_for(qtbot, tmp_path, people, model_persons=lambda: 2)
    assert panel.pair.isChecked() and not panel.pair.isEnabled() and panel.pair_mode()  # forced by the model
    clip = record(qtbot, panel, people)
    assert clip.persons == 2 and clip.joints.shape[:2] == (2, clip.frames)
    seen = (clip.confidence > 0).any(-1)
    assert seen[0].all()  # the selected person on every frame
    k = int(seen[1].sum())
    assert 5 <= k <= 10 and seen[1, :k].all() and not seen[1, k:].any()  # the partner until they left, then empty
    np.testing.assert_allclose(clip.joints[1, 0, 0, 0] - clip.joints[0, 0, 0, 0], 1.2, atol=0.02)  # person 2, not 3
    assert panel.library.check() == [] and f"the second on {k} of {clip.frames} frames" in panel.status.text()


def test_two_people_box_records_a_pair_and_unticked_records_one(qtbot, tmp_path):
    model = {"persons": 1}
    people = People()
    panel = panel_for(qtbot, tmp_path, people, model_persons=lambda: model["persons"])
    assert not panel.pair.isChecked() and panel.pair.isEnabled() and not panel.pair_mode()
    one = record(qtbot, panel, people)
    assert one.persons == 1 and one.joints.shape == (one.frames, 25, 3)
    panel.pair.setChecked(True)  # the user ticks "Two people"
    pair = record(qtbot, panel, people, people.i + 20)
    assert pair.persons == 2 and (pair.confidence[1] > 0).all() and "two people" in panel.status.text()
    assert [i.persons for i in panel.library.list()] == [1, 2]
    # a two-person model locks the box on; another model gives the user's choice back
    panel.pair.setChecked(False)
    model["persons"] = 2
    panel.refresh_labels()
    panel._set_state(IDLE)
    assert panel.pair.isChecked() and not panel.pair.isEnabled()
    model["persons"] = 1
    panel._set_state(IDLE)
    assert not panel.pair.isChecked() and panel.pair.isEnabled()


def test_trim_dialog_replays_both_people_and_saves_the_pair(qtbot, tmp_path):
    people = People()
    panel = panel_for(qtbot, tmp_path, people, trim=True)
    panel.pair.setChecked(True)
    record(qtbot, panel, people)
    assert panel.state == TRIMMING
    dlg = panel.trim_dialog
    n = len(panel.take)
    assert dlg.player.persons == 2 and dlg.player.frames == n
    dlg.player.grab()  # paints both
    dlg.first.setValue(3)
    with qtbot.waitSignal(panel.clipSaved, timeout=2000) as saved:
        dlg.accept()
    clip = panel.library.get(saved.args[0])
    assert clip.persons == 2 and clip.frames == n - 2


@pytest.mark.parametrize("persons", [1, 2])
def test_browser_shows_how_many_people_a_clip_has(qtbot, tmp_path, persons):
    lib = Library(tmp_path / "lib")
    t = np.arange(20) / 15.0
    j = np.stack([np.stack([body(x, m) for x in t]) + np.array([m, 0, 0], np.float32) for m in range(persons)])
    lib.add(j if persons == 2 else j[0], None, t, label="handshake")
    b = LibraryBrowser(lib)
    qtbot.addWidget(b)
    b.show()
    item = b.tree.topLevelItem(0).child(0)
    assert ("2 people" in item.text(1)) == (persons == 2)
    b.select([1])
    assert b.player.persons == persons and b.player.frames == 20
    b.player.grab()


def test_the_window_tells_the_record_dock_what_the_model_takes(qtbot, tmp_path):
    from PyQt6.QtCore import QSettings

    from app.ui.main_window import MainWindow
    from app.ui.settings import SettingsStore
    from test_ui_fakes import FakeRuntime, fake_opener

    rt = FakeRuntime(draw_skeleton=True)
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(rt, open_source=fake_opener, store=store, models_dir=tmp_path / "models",
                     read_metadata=lambda spec: {}, poll_ms=10, library=tmp_path / "lib")
    qtbot.addWidget(win)
    record = win.library_ui.record
    assert record.model_persons() == 1 and not record.pair_mode()  # a runtime that cannot say: one person
    rt.recognizer = SimpleNamespace(config=SimpleNamespace(persons=2))  # as Runtime.recognizer.config
    assert record.model_persons() == 2 and record.pair_mode()
