"""The clip library browser (offscreen): lists, replays, relabels, trims, deletes with undo, imports, exports."""
from __future__ import annotations

import numpy as np
import pytest

from app.clips import Library
from app.ui.library_browser import UNLABELLED, LibraryBrowser
from fakes import body


def clip(T: int = 20, seed: int = 0):
    t = np.arange(T) / 15.0
    return np.stack([body(x, seed) for x in t]), np.ones((T, 25), np.float32), t


@pytest.fixture
def browser(qtbot, tmp_path) -> LibraryBrowser:
    lib = Library(tmp_path / "lib")
    for i, lab in enumerate(["wave", "wave", "clap", None]):
        lib.add(*clip(20 + i, i), label=lab, source=f"/videos/take{i}.mp4")
    b = LibraryBrowser(lib)
    qtbot.addWidget(b)
    b.show()
    return b


def test_lists_clips_per_label_with_counts_and_replays(qtbot, browser):
    assert browser.counts() == {"clap": 1, "wave": 2, UNLABELLED: 1}
    assert "4 clips, 2 actions" in browser.summary.text()
    top = browser.tree.topLevelItem(1)  # clap, wave, then the unlabelled clips
    assert top.text(0) == "wave (2)" and top.child(0).text(2) == "take0.mp4"
    assert not browser.relabel_button.isEnabled()
    browser.select([1])
    assert browser.selected_ids() == [1] and browser.player.frames == 20 and browser.player.playing
    first = browser.player.frame
    qtbot.waitUntil(lambda: browser.player.frame != first, timeout=2000)  # animated
    browser.player.grab()  # paints


def test_relabel_trim_delete_undo(qtbot, browser):
    lib = browser.library
    changes = []
    browser.changed.connect(lambda: changes.append(1))
    browser.select([1, 3])
    assert browser.relabel_selected("clap") == 2
    assert browser.counts() == {"clap": 2, "wave": 1, UNLABELLED: 1} and lib.labels() == {"clap": 2, "wave": 1}
    assert sorted(browser.selected_ids()) == [1, 3]  # the selection follows the clips
    browser.select([2])
    assert browser.trim_selected((2, 12)) and lib.info(2).frames == 10
    browser.select([1, 2])
    assert browser.delete_selected() == [1, 2]
    assert lib.labels() == {"clap": 1} and "in the bin" in browser.summary.text() and browser.undo_button.isEnabled()
    assert browser.undo() == [1, 2]
    assert lib.labels() == {"clap": 2, "wave": 1} and sorted(browser.selected_ids()) == [1, 2]
    assert not browser.undo_button.isEnabled() and browser.undo() == []
    assert len(changes) == 4


def test_import_skeleton_files_in_the_background(qtbot, browser, nwucla_dir, tmp_path):
    files = [str(f) for f in sorted(nwucla_dir.glob("a05_s01_*_v01.json"))[:3]]
    with qtbot.waitSignal(browser.changed, timeout=30000):
        assert browser.import_files(files, kind="skeleton")
        assert browser.importing and browser.progress.isVisible()
    assert not browser.importing and len(browser.last_import) == 3
    assert browser.counts()["sit down"] == 3 and "Imported 3 clip(s)" in browser.progress_text.text()
    summary = browser.export_to(tmp_path / "out")
    assert summary["clips"] == 7 and (tmp_path / "out" / "index.csv").exists()
    assert browser.export_to(tmp_path / "out") is None and "not empty" in browser.progress_text.text()


def test_import_video_shows_progress_and_can_be_cancelled(qtbot, browser, videos_dir):
    video = str(videos_dir / "calisthenics-3people.avi")
    values = []
    browser.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(browser.changed, timeout=60000):
        browser.import_files([video], kind="video", label="exercise", max_frames=15)
    assert browser.counts()["exercise"] == 1 and max(values) == 1000 and len(set(values)) > 3
    # cancelled part-way: nothing of that video is stored
    browser.import_files([video], kind="video", label="exercise", max_frames=200)
    qtbot.waitUntil(lambda: browser.progress.value() > 10, timeout=30000)
    browser.cancel_import()
    qtbot.waitUntil(lambda: not browser.importing, timeout=30000)
    assert "Import cancelled" in browser.progress_text.text() and browser.library.labels()["exercise"] == 1
