"""The window over the real runtime (MediaPipe pose, a real model file) on a real shared video."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QSettings

from app.ui.main_window import MainWindow
from app.ui.settings import SettingsStore, UiSettings
from app.ui.video_view import bgr_to_qimage
from test_ui_fakes import qimage_array

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    """An untrained, small model file: the overlay does not depend on what the model says."""
    from ms2l.checkpoint import save_model
    from ms2l.config import ModelConfig
    from ms2l.model import MS2L

    labels = ("wave", "squat", "jump", "clap", "walk", "sit")
    path = tmp_path_factory.mktemp("models") / "small.safetensors"
    save_model(MS2L(ModelConfig(hidden=16, labels=labels), with_ssl_heads=False), path,
               {"description": "untrained, for tests"}, include_ssl_heads=False)
    return path


def test_real_runtime_draws_the_skeleton_on_a_shared_video(qtbot, tmp_path, videos_dir, small_model):
    from app.live.runtime import Runtime, RuntimeSettings

    runtime = Runtime(str(small_model), settings=RuntimeSettings(device="cpu", backend="torch"))
    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save(UiSettings(persons=1))  # the one-person path (several people: the test below)
    win = MainWindow(runtime, store=store, models_dir=tmp_path, model=str(small_model), dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_source(str(videos_dir / "calisthenics-3people.avi"))
    try:
        qtbot.waitUntil(win.video.overlay_drawn, timeout=20000)
        # Read the shown frame, its skeleton and the composed image together (no event in between).
        raw = qimage_array(bgr_to_qimage(win.video.frame))
        drawn = qimage_array(win.video.composed())
        sk = win.video.skeleton
    finally:
        win.close()
    assert not win.errors, win.errors
    h, w = raw.shape[:2]
    pts = np.round(sk.image_points).astype(int)
    seen = (sk.confidence > 0.5) & (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    assert seen.sum() >= 8, "MediaPipe should find the person in front"
    changed = np.abs(drawn.astype(int) - raw.astype(int)).sum(axis=2) > 40
    hits = [changed[y, x] for x, y in pts[seen]]
    assert np.mean(hits) > 0.9
    # ...and the picture is untouched away from the skeleton (the sky above everyone).
    assert changed[: max(1, pts[seen, 1].min() - 20)].mean() < 0.01
    assert "calisthenics-3people.avi" in win.status_label.text()


def test_three_people_are_drawn_in_their_own_colours_and_a_click_selects_one(qtbot, tmp_path, videos_dir, small_model):
    from app.live.runtime import Runtime, RuntimeSettings
    from app.ui.video_view import person_color

    runtime = Runtime(str(small_model), settings=RuntimeSettings(device="cpu", backend="torch"))
    store = SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.save(UiSettings(persons=3, pose_tiles=2))
    win = MainWindow(runtime, store=store, models_dir=tmp_path, model=str(small_model), dialogs=False)
    qtbot.addWidget(win)
    win.show()
    win.open_source(str(videos_dir / "calisthenics-3people.avi"))
    try:
        qtbot.waitUntil(lambda: len([p for p in win.video.people if p[1] is not None]) == 3, timeout=30000)
        people = [p for p in win.video.people if p[1] is not None]
        drawn = qimage_array(win.video.composed())
        ids = sorted(p[0] for p in people)
        assert len(set(ids)) == 3 and sum(p[4] for p in people) == 1  # one selected (the largest)
        for pid, sk, box, label, _ in people:
            assert label.startswith(f"{pid}: ")
            c = person_color(pid)
            pts = np.round(sk.image_points[sk.confidence > 0.5]).astype(int)
            # Dancers' arms cross: a joint within 15 px of someone else's may be painted over by them.
            others = np.concatenate([o[1].image_points[o[1].confidence > 0.5] for o in people if o[0] != pid])
            apart = np.linalg.norm(pts[:, None, :] - others[None], axis=-1).min(1) > 15
            assert apart.sum() >= 6, f"person {pid} overlaps the others almost everywhere"
            pts = pts[apart]
            px = drawn[pts[:, 1].clip(0, drawn.shape[0] - 1), pts[:, 0].clip(0, drawn.shape[1] - 1)][:, :3]
            close = (np.abs(px.astype(int) - np.array([c.red(), c.green(), c.blue()])).sum(1) < 60).mean()
            assert close > 0.5, f"person {pid} is not drawn in their colour"
        # Clicking inside another person's box selects them: the side panel follows.
        other = next(p for p in people if not p[4])
        r, (h, w) = win.video.image_rect(), win.video.frame.shape[:2]
        cx = r.x() + (other[2][0] + other[2][2]) / 2 * r.width() / w
        cy = r.y() + (other[2][1] + other[2][3]) / 2 * r.height() / h
        assert win.video.person_at(cx, cy) == other[0]
        win.select_person(other[0])
        qtbot.waitUntil(lambda: runtime.snapshot().selected == other[0], timeout=10000)
    finally:
        win.close()
    assert not win.errors, win.errors
