"""Open set across datasets: does a model tell motion unlike its training sets from its own test clips?

Known: the test splits of the datasets the model was trained on (the shipped default: NW-UCLA view 3
and UTD-MHAD subjects 2,4,6,8, labels merged); unknown: the CMU motion-capture takes, cut into
windows as the pretraining pool cuts them (for a model trained with outlier exposure, only the takes it
did not train on).  Scores as in ``benchmarks/openset.py``: the shipped
prototype distance (``novelty``), 1 - top softmax probability, energy, and a Mahalanobis distance
with one shrunk covariance fitted on the training clips' features.  Writes
``benchmarks/results/openset_crossdata.json``.

    python benchmarks/openset_crossdata.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
S = ROOT.parent / "shared" / "datasets"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "assets" / "default.safetensors"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "openset_crossdata.json")
    a = p.parse_args(argv)
    need = [S / "nw-ucla" / "all_sqe", S / "utd-mhad" / "Skeleton", S / "cmu-mocap-bvh"]
    missing = [str(d) for d in need if not d.exists()]
    if missing:
        print(f"openset_crossdata: data not found: {', '.join(missing)} (see ../shared/README.md)", file=sys.stderr)
        return 2
    import numpy as np
    import torch

    from ms2l.checkpoint import load_model
    from ms2l.data import load_dataset
    from ms2l.data.pool import load_pool, parse_sources
    from ms2l.openset import auroc
    from ms2l.train import extract_features
    from openset import _mahalanobis

    torch.set_num_threads(a.threads)
    t0, c0 = time.perf_counter(), time.process_time()
    model, meta = load_model(a.model, "cpu")
    cfg = model.config
    name, dirs = "nw-ucla+utd-mhad", f"{need[0]},{need[1]}"
    train, test = load_dataset(name, dirs, cfg, "train"), load_dataset(name, dirs, cfg, "test")
    if tuple(train.label_names) != tuple(cfg.labels):
        print(f"openset_crossdata: {a.model} was not trained on {name}'s merged labels", file=sys.stderr)
        return 2
    unknown, _ = load_pool(parse_sources("cmu", str(need[2])), cfg)
    trained_on = (meta.get("open_set") or {}).get("outliers")
    if trained_on:
        # A model trained with outlier exposure saw half of the takes: measure on the other half only.
        from ms2l.data.pool import split_by_take

        unknown = unknown.subset(split_by_take(unknown)[1])
    f_tr, f_kn, f_un = (extract_features(model, c, torch.device("cpu")).float() for c in (train, test, unknown))
    clf = model.classifier.eval()
    with torch.no_grad():
        def scores(f: torch.Tensor) -> dict[str, np.ndarray]:
            logits = clf(f)
            return {"distance": clf.novelty(f).numpy(), "msp": (1 - logits.softmax(-1).max(1).values).numpy(),
                    "energy": (-torch.logsumexp(logits, 1)).numpy()}

        sk, su = scores(f_kn), scores(f_un)
        sk["maha"], su["maha"] = _mahalanobis(f_tr, train.labels, f_kn, f_un)
    wall = time.perf_counter() - t0
    doc = {"model": os.path.relpath(a.model, ROOT), "known": f"{name} test ({len(test)} clips)", "unknown": f"CMU windows ({len(unknown)}"
           + (", the takes not trained on)" if trained_on else ")"),
           "auroc": {k: auroc(sk[k], su[k]) for k in sk},
           "known_accepted": 100.0 * float((sk["distance"] <= 1).mean()),
           "unknown_rejected": 100.0 * float((su["distance"] > 1).mean()),
           "machine": f"{os.cpu_count()} CPUs, {a.threads} torch threads", "wall_s": wall,
           "cpu_share": (time.process_time() - c0) / wall / (os.cpu_count() or 1)}
    a.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
