"""Render the fine-tune dialog after a real run, for docs/library-train.png (offscreen).

    python docs/library_screenshot.py [--data ../shared/datasets/nw-ucla/all_sqe] [--out docs/library-train.png]

Imports 8 real NW-UCLA clips of each of six actions (views 1 and 2) into a temporary clip
library, presses Train with the defaults (fine-tune from the shipped model's encoder, 20 %
of each action held out), waits for the result and saves a PNG of the dialog.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "nw-ucla" / "all_sqe")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "library-train.png")
    a = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    from app.clips import Library
    from app.ui.train_dialog import TrainDialog

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "library")
        for action in ("01", "03", "04", "05", "06", "11"):
            for f in sorted(a.data.glob(f"a{action}_*_v0[12].json"))[::9][:8]:
                lib.import_skeleton_file(f)
        dlg = TrainDialog(lib, registry=Path(tmp) / "models")
        dlg.show()
        done = []
        dlg.finishedRun.connect(done.append)
        dlg.start()
        while not done:
            app.processEvents()
        app.processEvents()
        if done[0] is None:
            print(f"training failed: {dlg.status.text()}", file=sys.stderr)
            return 1
        r = done[0]
        print(f"{r.strategy}: validation top-1 {r.validation['top1']:.1f} % on {r.n_val} clips, "
              f"trained on {r.n_train} clips in {r.train_seconds:.1f} s")
        dlg.grab().save(str(a.out))
        print(f"saved {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
