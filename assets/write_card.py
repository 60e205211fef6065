"""Write the shipped model's card: its metadata card plus the test figures and the data terms.

    python assets/write_card.py MODEL.safetensors TEST.json [TEST.json ...] > assets/MODEL_CARD.md

Each TEST.json is an ``ms2l evaluate --json --out`` result.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TERMS = """## Data terms

- UTD-MHAD (Chen, Jafari and Kehtarnavaz, ICIP 2015): free for research use; cite the paper. No licence
  file came with the copy used.
- NW-UCLA Multiview Action3D (Wang et al., CVPR 2014): research use.
- Pretraining pool (no labels): also SBU Kinect Interaction (research use, cite Yun et al., CVPR
  Workshops 2012), CMU Graphics Lab motion capture (may be used freely; the data may not be resold),
  five NTU RGB+D samples (research use) and three Bandai-Namco takes (CC BY-NC 4.0).

**Because of these terms this model is for research and personal use, not for a commercial product.**
"""


def main(argv: list[str]) -> int:
    from ms2l.card import model_card
    from ms2l.checkpoint import read_metadata

    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    meta = read_metadata(argv[0])
    tests = [json.loads(Path(p).read_text()) for p in argv[1:]]
    lines = ["# ms2l-live default model: a person in front of a webcam", "",
             f"{len(meta['config']['labels'])} actions: UTD-MHAD's 27 gestures and whole-body actions and NW-UCLA's "
             "10 everyday actions, with labels merged where they mean the same (UTD \"sit to stand\" = \"stand up\", "
             "\"stand to sit\" = \"sit down\", \"right-arm throw\" = \"throw\"). Motion unlike all of them is "
             "\"none of these\" (see Rejection below). Built with `assets/build_default.sh`.", "",
             "## Test figures (top-1 %, this 2-core CPU)", "",
             "| test set | protocol | clips | top-1 |", "| --- | --- | --- | --- |"]
    for t in tests:
        proto = {"utd-mhad": "cross-subject: subjects 1,3,5,7 train / 2,4,6,8 test",
                 "nw-ucla": "cross-view: views 1+2 train / view 3 test"}.get(t["dataset"], t["split"])
        lines.append(f"| {t['dataset']} | {proto} | {t['n']} | **{t['top1']:.2f}** |")
    lines += ["", "Predictions are over all the model's actions: naming an action the test set does not have counts "
              "as wrong.", "", TERMS]
    body = model_card(meta, title="Model details")
    lines += [body.replace("# Model details", "# Model details", 1)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
