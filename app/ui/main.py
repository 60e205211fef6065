"""``ms2l-live``: the live recognition window.

    ms2l-live                                  # first camera found, or the empty state
    ms2l-live --source clip.mp4 --model mine.safetensors
    ms2l-live --source clip.avi --snapshot live.png --exit-after 8   # headless check / docs

``--snapshot`` renders the real window (also under ``QT_QPA_PLATFORM=offscreen``)
for ``--exit-after`` seconds, saves it as a PNG and exits; it uses default
settings, not the user's, so that snapshots are reproducible.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from typing import Any

from ..paths import debug

log = logging.getLogger("ms2l-live")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ms2l-live", description="Recognise actions live from a camera or video.")
    p.add_argument("--source", help="camera:N, a video file, a folder of images, a stream URL or a .npz skeleton clip "
                                    "(default: the first camera found)")
    p.add_argument("--model", default=None,
                   help="model file, or 'default' for the shipped model (default: the one used last)")
    p.add_argument("--loop", action="store_true", help="play video files in a loop")
    p.add_argument("--library", metavar="DIR", help="your clip library (default: MS2L_LIBRARY, else the user's data "
                                                    "folder; with --snapshot: none unless given)")
    p.add_argument("--persons", type=int, metavar="N", help="people to follow (default: the setting, 3; 1 is the "
                                                              "fast one-person path)")
    p.add_argument("--pose-tiles", type=int, metavar="N", help="pose detector strips with several people (2 for a "
                                                                "group far from the camera, 1 for someone close, 0 "
                                                                "to choose from what is seen; default: the setting, 0)")
    p.add_argument("--snapshot", metavar="PNG", help="save a PNG of the window after --exit-after seconds, then exit")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS",
                   help="close after this many seconds (default with --snapshot: 5)")
    return p


def _empty_snapshot(source: str, model: str) -> Any:
    from ..live.runtime import RuntimeSnapshot, RuntimeStats

    return RuntimeSnapshot(stats=RuntimeStats(source=source, model=model))


def _make_runtime(model: str, settings: Any) -> Any:
    from ..live.runtime import Runtime

    return Runtime(model, settings=settings)


def _install_excepthook(report: Any) -> Any:
    """An exception escaping a Qt slot aborts PyQt6; show it as a message instead.

    Returns the previous hook (restored when the window closes)."""
    previous = sys.excepthook

    def hook(etype: type[BaseException], value: BaseException, tb: Any) -> None:
        log.error("unexpected error: %s", value, exc_info=(etype, value, tb) if debug() else None)
        try:
            report(value)
        except Exception:  # noqa: BLE001 - the hook itself must never fail
            pass

    sys.excepthook = hook
    return previous


def _has_display() -> bool:
    """Whether Qt can open a window here (only Linux/BSD can lack one)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    return bool(os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


#: Shared libraries Qt's xcb platform plugin loads on Linux, and the Debian/Ubuntu package of each.
#: Qt aborts (it cannot be caught) when one is missing, printing only a plugin error.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
}


def _loadable(name: str) -> bool:
    import ctypes

    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def missing_xcb_packages(loadable: Any = None) -> list[str]:
    """The system packages Qt's xcb plugin needs and this machine lacks ([] when it would start)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb" \
            or not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return []
    loadable = loadable or _loadable
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if not loadable(lib)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="ms2l-live: %(message)s")
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from ..settings import RuntimeSettings
    from ..live.sources import list_cameras
    from ..live.holder import RuntimeHolder
    from .main_window import MainWindow
    from .settings import SettingsStore

    missing = missing_xcb_packages() if QApplication.instance() is None and not args.snapshot else []
    if missing:
        log.error("Qt cannot open a window: its xcb platform plugin needs system libraries that are not installed. "
                  "On Debian/Ubuntu: sudo apt install %s (or run headless with --snapshot)", " ".join(missing))
        return 2
    if QApplication.instance() is None and not _has_display():
        if not args.snapshot:
            # Qt would abort with a core dump; say what to do instead.
            log.error("no display to open a window on (no DISPLAY or WAYLAND_DISPLAY); run it in a desktop "
                      "session, or render headless with --snapshot")
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ms2l-live")
    app.setOrganizationName("ms2l-live")

    snapshot_dir = None
    if args.snapshot:
        # Reproducible snapshots: defaults, and the user's own settings left alone.
        snapshot_dir = tempfile.TemporaryDirectory(prefix="ms2l-live-")
        store = SettingsStore(QSettings(os.path.join(snapshot_dir.name, "s.ini"), QSettings.Format.IniFormat))
    else:
        store = SettingsStore()
    ui = store.load()
    if args.loop:
        ui = ui.replace(loop=True)
        store.save(ui)
    if args.persons is not None or args.pose_tiles is not None:
        ui = ui.replace(**{k: v for k, v in (("persons", args.persons), ("pose_tiles", args.pose_tiles))
                           if v is not None})
        store.save(ui)
    model = args.model or store.value("model", "default") or "default"

    runtime = RuntimeHolder(_make_runtime, model, RuntimeSettings().replace(**ui.runtime_changes()),
                            empty_snapshot=_empty_snapshot)
    cameras = list_cameras()
    from ..paths import library_dir as default_library_dir
    library = args.library or (None if args.snapshot else default_library_dir())  # snapshots stay reproducible
    win = MainWindow(runtime, cameras=cameras, store=store, model=model, dialogs=not args.snapshot, library=library)
    previous_hook = _install_excepthook(win.report)
    win.show()
    if args.source:
        win.open_source(args.source)
    elif cameras:
        win.open_source(f"camera:{cameras[0]}")

    status = {"rc": 0}

    def finish() -> None:
        if args.snapshot:
            win.tick()
            if win.grab().save(args.snapshot):
                log.info("saved %s", args.snapshot)
            else:
                log.error("could not save %s", args.snapshot)
                status["rc"] = 1
        win.close()

    # Closing this window ends the app -- exactly one quit, whatever else is open
    # (an error box; other windows when main() runs inside a test's QApplication).
    quit_on_last = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    win.closed.connect(app.quit)
    exit_after = args.exit_after if args.exit_after is not None else (5.0 if args.snapshot else None)
    if exit_after is not None:
        QTimer.singleShot(int(1000 * exit_after), finish)
    try:
        rc = app.exec()
    finally:
        win.closed.disconnect(app.quit)
        if win.isVisible():
            win.close()  # stops the runtime's threads
        app.setQuitOnLastWindowClosed(quit_on_last)
        sys.excepthook = previous_hook
    if snapshot_dir is not None:
        snapshot_dir.cleanup()
    return status["rc"] or rc


if __name__ == "__main__":
    sys.exit(main())
