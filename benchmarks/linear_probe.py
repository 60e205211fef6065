"""Linear evaluation of a frozen encoder on NW-UCLA: which features and which fit of the linear layer.

The paper row "linear evaluation" trains one linear layer on frozen features.  What the
features are (how the GRU's per-frame outputs are pooled) and how that layer is fitted are
choices; this script measures them without ever choosing on the test view:

* ``val``  -- fit on view 1 (``train1``), score view 2 (``val2``): the column to choose by;
* ``test`` -- fit on views 1 + 2, score view 3: the paper protocol, reported for every row.

Features (one encoder pass gives all of them; ``mean`` is exactly ``MS2L.features``):

* ``mean``      the product's: mean over frames of the top GRU layer (600);
* ``meanmax``   mean and max over frames of the top layer (1200);
* ``layers``    mean over frames of both GRU layers (1200);

Fits: ``adam`` is the product's (``ms2l train --strategy linear``: standardise, Adam at 1e-3,
cosine, 100 epochs, batch 64); ``lbfgs-L`` is a full-batch L-BFGS logistic regression on
standardised features with L2 weight ``L``.  Training features average nothing: each of
``--copies`` augmented copies of every clip is one sample (the product uses 5); ``tta`` rows
average the class probabilities of the whole test clip and ``--tta`` augmented copies of it.

    python benchmarks/linear_probe.py --encoder runs/pre-vel36/encoder.safetensors
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "nw-ucla" / "all_sqe"
FEATURES = ("mean", "meanmax", "layers")


def layer_outputs(encoder: Any, x: "torch.Tensor", lengths: "torch.Tensor") -> list["torch.Tensor"]:
    """Per-frame outputs ``[B, T, 2H]`` of every layer of the bidirectional GRU encoder.

    ``nn.GRU`` returns only its top layer; each layer is re-run here as a one-layer GRU that
    holds that layer's weights, packed the way :class:`ms2l.encoders.GRUEncoder` packs."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    gru = encoder.gru
    h = encoder.inputs(x)
    T = h.shape[1]
    outs = []
    for layer in range(gru.num_layers):
        one = nn.GRU(h.shape[-1], gru.hidden_size, batch_first=True, bidirectional=True)
        with torch.no_grad():
            for name, _ in one.named_parameters():
                getattr(one, name).copy_(getattr(gru, name.replace("_l0", f"_l{layer}")))
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h = pad_packed_sequence(one(packed)[0], batch_first=True, total_length=T)[0]
        outs.append(h)
    return outs


def features(model: Any, clips: Any, augment: Any = None, seed: int = 0, max_frames: int = 10**9) -> dict[str, Any]:
    """``{name: [N, F]}`` for every name in :data:`FEATURES`, in clip order."""
    import torch
    from torch.utils.data import DataLoader

    from ms2l.data.clipset import ClipDataset, collate
    from ms2l.encoders import masked_mean, pool

    model.eval()
    loader = DataLoader(ClipDataset(clips, max_frames, augment, seed=seed), batch_size=128, shuffle=False,
                        collate_fn=collate)
    out: dict[str, list] = {k: [] for k in FEATURES}
    with torch.no_grad():
        for x, lengths, _ in loader:
            x = model._flat(x)
            h1, h2 = layer_outputs(model.encoder, x, lengths)
            mean = masked_mean(h2, lengths)
            ref = model.features(x, lengths) if not out["mean"] else mean  # checked on the first batch
            if not torch.allclose(mean, ref, atol=1e-4):
                raise AssertionError(f"re-run layers differ from the encoder by {float((mean - ref).abs().max()):.2e}")
            out["mean"].append(mean)
            out["meanmax"].append(pool(h2, lengths, "mean+max"))
            out["layers"].append(torch.cat([masked_mean(h1, lengths), mean], 1))
    return {k: torch.cat(v) for k, v in out.items()}


def fit_adam(f: "torch.Tensor", y: "torch.Tensor", K: int, seed: int, epochs: int = 100) -> Any:
    """The product's linear strategy on precomputed features; returns ``predict(f) -> probabilities``."""
    import torch
    import torch.nn.functional as F

    from ms2l.model import Classifier

    torch.manual_seed(seed)
    clf = Classifier(f.shape[1], K)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    bs = min(64, len(f))
    for _ in range(epochs):
        clf.train()
        order = torch.randperm(len(f), generator=g)
        for i in range(0, len(order) - (1 if len(order) % bs == 1 else 0), bs):
            idx = order[i:i + bs]
            loss = F.cross_entropy(clf(f[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clf.parameters(), 10.0)
            opt.step()
        sched.step()
    clf.eval()
    return lambda z: torch.softmax(clf(z), -1).detach()


def fit_lbfgs(f: "torch.Tensor", y: "torch.Tensor", K: int, l2: float) -> Any:
    """Multinomial logistic regression on standardised features, L2 weight ``l2`` on the weights."""
    import torch
    import torch.nn.functional as F

    mu, sd = f.mean(0), f.std(0).clamp_min(1e-6)
    z = (f - mu) / sd
    W = torch.zeros(f.shape[1], K, requires_grad=True)
    b = torch.zeros(K, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ W + b, y) + l2 * W.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    W, b = W.detach(), b.detach()
    return lambda q: torch.softmax(((q - mu) / sd) @ W + b, -1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", required=True, help="an encoder file from `ms2l pretrain`")
    p.add_argument("--copies", type=int, default=20, help="augmented copies of each training clip (default 20)")
    p.add_argument("--tta", type=int, default=10, help="augmented copies of each test clip for the tta rows")
    p.add_argument("--l2", default="1e-4,1e-3,1e-2", help="L2 weights of the L-BFGS fits")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "linear_probe.json")
    a = p.parse_args(argv)
    if not DATA.exists():
        print(f"linear_probe: {DATA} not found (see ../shared/README.md)", file=sys.stderr)
        return 2
    import numpy as np
    import torch

    from ms2l.augment import Augment
    from ms2l.checkpoint import load_model
    from ms2l.data import dataset_labels, load_dataset

    torch.set_num_threads(a.threads)
    enc, _ = load_model(a.encoder)
    config = enc.config.replace(labels=dataset_labels("nw-ucla"))
    K = len(config.labels)
    aug = Augment.with_views(())  # the product's linear strategy: base views only
    fits = {"adam": None, **{f"lbfgs-{l}": float(l) for l in a.l2.split(",")}}
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for phase, (tr_split, te_split) in {"val": ("train1", "val2"), "test": ("train", "test")}.items():
        train, test = (load_dataset("nw-ucla", DATA, config, s) for s in (tr_split, te_split))
        t0 = time.perf_counter()
        per_copy = [features(enc, train, aug, seed=a.seed + i, max_frames=config.window) for i in range(a.copies)]
        te_plain = features(enc, test)
        te_aug = [features(enc, test, aug, seed=10_000 + i) for i in range(a.tta)]
        t_feat = time.perf_counter() - t0
        y_test = torch.as_tensor(test.labels)
        print(f"{phase}: {len(train)} -> {len(test)} clips, features {t_feat:.0f} s", flush=True)
        for copies in sorted({5, a.copies}):
            y = torch.as_tensor(np.tile(train.labels, copies))
            for feat in FEATURES:
                f = torch.cat([c[feat] for c in per_copy[:copies]])
                for fit, l2 in fits.items():
                    t1 = time.perf_counter()
                    predict = fit_adam(f, y, K, a.seed) if l2 is None else fit_lbfgs(f, y, K, l2)
                    s = time.perf_counter() - t1
                    plain = predict(te_plain[feat])
                    tta = (plain + sum(predict(c[feat]) for c in te_aug)) / (1 + len(te_aug))
                    for mode, prob in (("whole", plain), ("tta", tta)):
                        top1 = 100.0 * float((prob.argmax(1) == y_test).float().mean())
                        rows.append({"phase": phase, "copies": copies, "features": feat, "fit": fit,
                                     "test": mode, "top1": round(top1, 2), "fit_s": round(s, 1)})
                    print(phase, copies, feat, fit, f"whole {rows[-2]['top1']:.2f} tta {rows[-1]['top1']:.2f}",
                          f"({s:.1f} s)", flush=True)
    doc = {"encoder": a.encoder, "copies": a.copies, "tta": a.tta, "seed": a.seed,
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {a.threads} torch threads, torch {torch.__version__}",
           "load_after": os.getloadavg()[0], "seconds": round(time.perf_counter() - t_start), "rows": rows}
    a.out.write_text(json.dumps(doc, indent=1) + "\n")
    write_markdown(doc, a.out.with_suffix(".md"))
    print(a.out.with_suffix(".md").read_text())
    return 0


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    val = {(r["copies"], r["features"], r["fit"], r["test"]): r["top1"] for r in doc["rows"] if r["phase"] == "val"}
    test = {(r["copies"], r["features"], r["fit"], r["test"]): r["top1"] for r in doc["rows"] if r["phase"] == "test"}
    best = max(val, key=val.get)
    lines = ["# Linear evaluation on NW-UCLA: features and fits (frozen encoder)", "",
             f"Encoder `{doc['encoder']}`; {doc['machine']}; {doc['seconds']} s in all (load average after: "
             f"{doc['load_after']:.1f}). `val`: fit on view 1, score view 2 (the column to choose by); `test`: fit on "
             "views 1 + 2, score view 3 (the paper protocol). `whole`: each test clip once, as `ms2l evaluate`; "
             f"`tta`: probabilities averaged over the clip and {doc['tta']} augmented copies.", "",
             "| copies | features | fit | test clips | val % | test % |", "| --- | --- | --- | --- | --- | --- |"]
    for k in sorted(val, key=lambda k: -val[k]):
        mark = " (best on val)" if k == best else ""
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {val[k]:.2f}{mark} | {test.get(k, float('nan')):.2f} |")
    prod = (5, "mean", "adam", "whole")
    if prod in test:
        lines += ["", f"The product's recipe (5 copies, mean, adam, whole clips): val {val[prod]:.2f}, test "
                      f"{test[prod]:.2f}. Chosen on val: {best} -> test {test[best]:.2f}."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
