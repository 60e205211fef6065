"""``ms2l-live``: the desktop window (a placeholder until the live view lands)."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ms2l-live", description="Recognise actions live from a camera or video.")
    p.add_argument("--model", default="default", help="model file, or 'default' for the shipped model")
    p.add_argument("--snapshot", help="save a PNG of the window and exit (headless checks)")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS", help="close after this many seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow

    from ms2l.checkpoint import load_model

    app = QApplication.instance() or QApplication(sys.argv[:1])
    model, meta = load_model(args.model)
    win = QMainWindow()
    win.setWindowTitle("ms2l-live")
    text = (f"Model: {args.model} - {len(model.config.labels)} actions at {model.config.fps:g} fps\n"
            + ", ".join(model.config.labels) + "\n\nThe live view is not built yet.")
    label = QLabel(text)
    label.setWordWrap(True)
    win.setCentralWidget(label)
    win.resize(640, 240)
    win.show()

    def finish() -> None:
        if args.snapshot:
            win.grab().save(args.snapshot)
        app.quit()

    if args.snapshot or args.exit_after is not None:
        QTimer.singleShot(int(1000 * (args.exit_after or 0.5)), finish)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
