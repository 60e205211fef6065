"""The MS²L library's commands: pretrain, train, prepare, evaluate and export.

:func:`add_commands` registers them on any argparse sub-parser set (the app's
``ms2l`` program adds its own beside them); ``python -m ms2l`` and
``torchrun -m ms2l pretrain`` run them alone.  Each command shows a progress bar
on stderr and writes a JSON summary.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

Handler = Callable[[argparse.Namespace], int]


def _machine() -> str:
    import torch
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, {dev}, torch {torch.__version__}"


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def _command_line() -> str:
    return "ms2l " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _need_data(a: argparse.Namespace) -> None:
    """--data is required; checked here so that a program adding another source of clips can relax it."""
    if a.data is None:
        print(f"ms2l {a.command}: error: the following arguments are required: --data", file=sys.stderr)
        raise SystemExit(2)


def _data_args(p: argparse.ArgumentParser, split: bool = False, optional_data: bool = False, pool: bool = False) -> None:
    """--dataset, --data, --protocol (and --split); ``pool``: comma lists of several datasets (pretrain only)."""
    from .data import DATASETS

    if pool:
        from .data.pool import SOURCES
        p.add_argument("--dataset", default="nw-ucla", metavar="NAME[,NAME...]",
                       help=f"one dataset ({', '.join(DATASETS)}), or an unlabelled pool: a comma list of "
                            f"{', '.join(SOURCES)} with one --data folder each (sbu:foldK leaves SBU fold K's test "
                            "pairs out), or 'pool' with one --data datasets folder for every source found under it. "
                            "A pool takes training splits only (NW-UCLA views 1+2, UTD-MHAD subjects 1,3,5,7) plus all "
                            "of SBU, CMU and the NTU and BVH samples (docs/datasets.md). Default nw-ucla")
        p.add_argument("--data", required=True, metavar="DIR[,DIR...]",
                       help="dataset folder, e.g. ../shared/datasets/nw-ucla/all_sqe; a comma list in --dataset's "
                            "order for a pool; for --dataset pool a datasets folder such as ../shared/datasets")
    else:
        p.add_argument("--dataset", default="nw-ucla", metavar="NAME",
                       help=f"one of {', '.join(DATASETS)}: nw-ucla (a folder of JSON clips), utd-mhad (a folder of "
                            ".mat clips), sbu (the folder of actor-pair folders), or ntu60/ntu120/pkummd1/pkummd2 (a "
                            "cache from `ms2l prepare`); or several joined by + (e.g. nw-ucla+utd-mhad with --data "
                            "DIR1,DIR2: labels merged where they mean the same, docs/datasets.md); default nw-ucla")
        p.add_argument("--data", required=not optional_data, type=Path, metavar="DIR[,DIR...]",
                       help="dataset folder, e.g. ../shared/datasets/nw-ucla/all_sqe, ../shared/datasets/utd-mhad/Skeleton, "
                            "../shared/datasets/sbu-kinect-interaction, or an NTU cache folder")
    p.add_argument("--protocol", default=None,
                   help="NTU split: xsub or xview (NTU-60), xsub or xset (NTU-120); default xsub. SBU: fold1..fold5 "
                        "(5-fold cross-validation over actor pairs; default fold1). NW-UCLA (views 1+2 / 3) and "
                        "UTD-MHAD (subjects 1,3,5,7 / 2,4,6,8) have one")
    if split:
        p.add_argument("--split", default="test", help="train, test or all; for NW-UCLA also train1, val2 (default: test)")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 autocast on GPUs that support it, fp32 on CPU (default: auto)")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes per rank (default: 0)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint of an interrupted run with the same --out")
    p.add_argument("--views", type=lambda s: tuple(v.strip() for v in s.split(",") if v.strip()), default=(),
                   help="extra augmentation views, a comma list of tilt, jitter, dropout, mask, mirror, swap "
                        "(default: none; see ms2l/augment.py)")


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda (default: auto)")


def cmd_pretrain(a: argparse.Namespace) -> int:
    import torch
    from .card import model_card
    from .checkpoint import save_model, write_text_atomic
    from .config import ModelConfig, TaskConfig
    from .config import default_recipe
    from .data import DATASETS, dataset_config, load_dataset
    from .data.pool import SOURCES, is_pool, load_pool, parse_sources, pool_metadata
    from .device import resolve_device
    from .errors import ConfigError, DatasetError
    from .model import MS2L
    from .train import pretrain

    from . import distributed

    dist_info, device = distributed.init_from_env(resolve_device(a.device))
    tasks = TaskConfig.from_names(a.tasks, temperature=a.temperature, pair_views=a.pair_views)
    recipe = default_recipe("pretrain", epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed, tasks=tasks,
                            precision=a.precision, workers=a.workers, views=a.views)
    pool = is_pool(a.dataset)
    if pool:
        if a.protocol is not None:
            raise ConfigError("--protocol is for one dataset; in a pool write NAME:PROTOCOL (e.g. sbu:fold2)")
        # A pool mixes one- and two-person sources: the encoder takes one person, each person of a take a clip.
        config = ModelConfig(window=a.window, velocity=a.velocity, bone=a.bone)
    else:
        if a.dataset not in DATASETS:
            raise DatasetError(f"unknown dataset {a.dataset!r}; known: {', '.join(DATASETS)}, or a pool of "
                               f"{', '.join(SOURCES)} (comma list), or 'pool'")
        config = dataset_config(a.dataset, ModelConfig(window=a.window, velocity=a.velocity, bone=a.bone))
    torch.manual_seed(a.seed)
    start = None
    if a.init is not None:  # checked before the data is read: a wrong file fails at once
        model, start = _init_encoder(a.init, config)
    else:
        model = MS2L(config)
    if pool:
        clips, composition = load_pool(parse_sources(a.dataset, a.data), config, progress=dist_info.is_main)
        if len(clips) == 0:
            raise DatasetError(f"the pool {a.dataset} has no clips")
        data_info = pool_metadata(composition, config)
    else:
        clips = load_dataset(a.dataset, Path(a.data), config, "train", progress=dist_info.is_main, protocol=a.protocol)
        data_info = {"dataset": a.dataset, **({"protocol": a.protocol} if a.protocol else {}), "split": "train",
                     "clips": len(clips)}
    t0 = time.perf_counter()
    out = Path(a.out)
    history = pretrain(model, clips, recipe, device, checkpoint_dir=out, resume=a.resume)
    if not dist_info.is_main:
        distributed.shutdown()
        return 0
    info = {"kind": "encoder", "recipe": recipe.to_dict(), "data": data_info, "command": _command_line(), "history": history}
    if start is not None:
        info["init"] = start
    save_model(model, out / "encoder.safetensors", info)
    write_text_atomic(out / "encoder.md", model_card(info | {"config": model.config.to_dict()}, title="encoder"))
    summary = {"command": "pretrain", "encoder": str(out / "encoder.safetensors"), "clips": len(clips), "data": data_info,
               "epochs": recipe.epochs, "tasks": tasks.enabled, "device": str(device), "machine": _machine(),
               "processes": dist_info.world_size,
               "wall_s": time.perf_counter() - t0, "final": history[-1] if history else None, "history": history}
    _write_json(out / "summary.json", summary)
    print(f"encoder written to {out / 'encoder.safetensors'}", file=sys.stderr)
    distributed.shutdown()
    return 0


def _init_encoder(path: Path, config: ModelConfig) -> tuple[MS2L, dict[str, Any]]:
    """The encoder and MS²L task heads of ``path`` to pretrain further, and what the new file records of it.

    A fresh learning-rate schedule on a trained encoder (a warm restart) is how one pretrains longer or on
    more data without starting over; the file must be an encoder of the same build as this run.
    """
    from .checkpoint import load_model
    from .errors import ConfigError

    model, meta = load_model(path)
    if not model.has_ssl_heads:
        raise ConfigError(f"--init {path}: the file has no MS²L task heads (a classifier model?); "
                          "pass an encoder written by `ms2l pretrain`")
    want, have = config.to_dict(), model.config.to_dict()
    differ = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    if differ:
        shown = ", ".join(f"{k}: {have.get(k)!r} there, {want.get(k)!r} here" for k in differ[:4])
        raise ConfigError(f"--init {path} was built differently from this run ({shown}); "
                          "pass the same --velocity, --bone and --window, or pretrain from scratch")
    before = meta.get("init") if isinstance(meta.get("init"), dict) else {}
    recipe = meta.get("recipe") if isinstance(meta.get("recipe"), dict) else {}

    def count(v: object) -> int:  # metadata is untrusted text: a non-number counts as no epochs
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0

    epochs = count(recipe.get("epochs")) + count(before.get("epochs"))
    return model.train(), {"path": str(path), "epochs": epochs, "data": meta.get("data"),
                           "recipe": recipe or None}


def cmd_train(a: argparse.Namespace) -> int:
    _need_data(a)
    import numpy as np
    import torch
    from .checkpoint import encoder_record, load_model, save_bundle
    from .config import ModelConfig, TaskConfig, default_recipe
    from . import distributed
    from .data import dataset_config, load_dataset, stratified_fraction
    from .device import resolve_device
    from .evaluate import evaluate
    from .model import MS2L
    from .train import train_classifier

    info_d, device = distributed.init_from_env(resolve_device(a.device))
    if a.strategy in ("linear", "finetune", "prototype") and a.encoder is None:
        raise SystemExit(f"ms2l train: --strategy {a.strategy} needs --encoder CKPT (from `ms2l pretrain`)")
    if a.outlier_weight > 0 and a.strategy in ("linear", "prototype"):
        raise SystemExit(f"ms2l train: --outlier-weight trains the encoder; --strategy {a.strategy} keeps it frozen")
    tasks = TaskConfig.from_names(a.tasks)

    def recipe_for(fraction: float):
        # The share of the split trained on sets the epochs (default_recipe); self-training rounds train on more.
        return default_recipe(a.strategy, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                              label_fraction=fraction, tasks=tasks, precision=a.precision, workers=a.workers,
                              views=a.views, outlier_weight=a.outlier_weight)

    recipe = recipe_for(a.label_fraction)
    if a.encoder is not None:
        from .encoders import for_persons

        encoder, enc_meta = load_model(a.encoder)
        # A two-person dataset on a one-person encoder: the encoder runs on each person.
        base = for_persons(encoder.config, dataset_config(a.dataset, encoder.config).persons)
    else:
        encoder, enc_meta, base = None, None, dataset_config(a.dataset, ModelConfig(window=a.window))
    train = load_dataset(a.dataset, a.data, base, "train", progress=info_d.is_main, protocol=a.protocol)
    test = load_dataset(a.dataset, a.data, base, "test", progress=False, protocol=a.protocol)
    negatives = outliers = None
    if a.negatives:
        from .data.pool import load_pool, parse_sources, split_by_take

        negatives, _ = load_pool(parse_sources(a.negatives, a.negatives_data or ""), base)
        if a.outlier_weight > 0:
            # Train on half of the takes, measure rejection on the other half.
            first, rest = split_by_take(negatives)
            outliers, negatives = negatives.subset(first), negatives.subset(rest)
    elif a.outlier_weight > 0:
        raise SystemExit("ms2l train: --outlier-weight needs other motion to train on: --negatives NAME[,NAME...]")
    unlabelled = None  # the training clips whose labels --label-fraction hides
    if a.self_train:
        if a.self_train < 0 or a.label_fraction >= 1:
            raise SystemExit("ms2l train: --self-train ROUNDS (ROUNDS >= 1) learns from the unlabelled rest of the "
                             "training split: give --label-fraction below 1")
        if a.strategy not in ("finetune", "scratch"):
            raise SystemExit(f"ms2l train: --self-train is for --strategy finetune or scratch, not {a.strategy}")
        if a.resume:
            raise SystemExit("ms2l train: --resume does not continue a self-training run; start it again")
    if a.calibrate_by == "subject":
        if "subject" not in train.meta:
            raise SystemExit(f"ms2l train: --calibrate-by subject needs each clip's subject; the {a.dataset} reader "
                             "gives none: drop --calibrate-by")
        if a.self_train:
            raise SystemExit("ms2l train: --calibrate-by subject does not combine with --self-train")
        if len(np.unique(train.meta["subject"])) < 2:
            raise SystemExit("ms2l train: --calibrate-by subject needs at least 2 subjects in the training split")
        if a.calibration_folds < 2:
            raise SystemExit(f"ms2l train: --calibration-folds must be 2 or more, not {a.calibration_folds}")
    soup_n = getattr(a, "soup", 1)
    if not 1 <= soup_n <= 10:
        raise SystemExit(f"ms2l train: --soup N averages N models: give N from 1 to 10, not {soup_n}")
    if soup_n > 1 and a.resume:
        raise SystemExit("ms2l train: --resume does not continue a soup (several models); start it again")
    n_full = len(train)
    if a.label_fraction < 1:
        chosen = stratified_fraction(train.labels, a.label_fraction, a.seed)
        unlabelled = train.subset(np.setdiff1d(np.arange(len(train)), chosen))
        train = train.subset(chosen)
    config = base.replace(labels=tuple(train.label_names), dropout=a.dropout, pooling=a.pooling or base.pooling,
                          head=a.head or base.head)
    out = Path(a.out)
    if out.suffix != ".safetensors":
        out = out.with_name(out.name + ".safetensors")
    histories: list = []
    used: list = []  # the recipe of each fit: the last one trained the weights that are saved

    def fit(clips, calibration: bool = False):
        """Train on ``clips``; a calibration model trains as the saved one does, keeps no checkpoint and no log."""
        from .soup import average_into, member_seeds

        members = []
        for m, seed in enumerate(member_seeds(a.seed, soup_n)):  # a soup: fine-tunes averaged (ms2l.soup)
            torch.manual_seed(seed)
            model = MS2L(config, with_ssl_heads=a.strategy == "joint")
            if encoder is not None:
                own = model.state_dict()
                # Heads whose shapes depend on the person count (decoder, projector) start afresh.
                model.load_state_dict({k: v for k, v in encoder.state_dict().items()
                                       if k in own and not k.startswith("classifier") and v.shape == own[k].shape},
                                      strict=False)
            # A self-training round trains on a larger share of the split than the labelled clips.
            r = recipe if (calibration or len(clips) == len(train)) else recipe_for(min(1.0, len(clips) / n_full))
            r = dataclasses.replace(r, seed=member_seeds(r.seed, soup_n)[m]) if m else r
            ckpt = None if (a.self_train or soup_n > 1 or calibration) else out.with_name(out.stem + ".ckpt")
            h = train_classifier(model, clips, r, device, resume=a.resume and not calibration, outliers=outliers,
                                 checkpoint_dir=ckpt)
            if not calibration:
                used.append(r)
                histories.append(h)
            members.append(model)
        if len(members) > 1:
            return average_into(members)
        return members[0]

    t0 = time.perf_counter()
    self_log = labeller = None
    if a.self_train:
        from .selftrain import resolve_labeller, self_train

        labeller = resolve_labeller(a.pseudo_labels, train)  # auto made concrete: the card names the one that ran
        model, self_log = self_train(fit, train, unlabelled, device, rounds=a.self_train, truth=unlabelled.labels,
                                     labeller=labeller,
                                     progress=lambda r: print(f"self-training round {r['round']}: {r['clips']} clips "
                                                              f"({r['pseudo']} pseudo-labelled)", file=sys.stderr))
    else:
        model = fit(train)
    history = histories[-1]
    wall = time.perf_counter() - t0
    held, calibration_by = None, None
    if a.calibrate_by == "subject":
        # Models trained without some of the people score those people's clips: the threshold then
        # reflects a person the model never saw (a new user), not the training people's own clips.
        from .openset import group_folds, heldout_scores

        t1 = time.perf_counter()
        folds = group_folds(train.meta["subject"], a.calibration_folds)
        held = np.full(len(train), np.nan)
        for i, idx in enumerate(folds):
            people = ", ".join(str(x) for x in np.unique(train.meta["subject"][idx]))
            if info_d.is_main:
                print(f"calibration model {i + 1}/{len(folds)}: trained without subjects {people}",
                      file=sys.stderr, flush=True)
            keep = train.subset(np.setdiff1d(np.arange(len(train)), idx))
            held[idx] = heldout_scores(fit(keep, calibration=True), keep, train.subset(idx), device)
        calibration_by = {"by": "subject", "folds": len(folds), "seconds": round(time.perf_counter() - t1, 1)}
    if not info_d.is_main:
        distributed.shutdown()
        return 0
    from .openset import calibrate

    from .preprocess import live_window

    # Prototypes + threshold: "none of these" when nothing fits; negatives are only measured.
    open_set = calibrate(model, train, device, negatives=negatives, held_out=held)
    if calibration_by:
        open_set["groups"] = calibration_by
    if a.negatives:
        open_set["negatives"]["sources"] = a.negatives
        if outliers is not None:
            open_set["negatives"]["takes"] = "the half of the takes not trained on (ms2l.data.pool.split_by_take, seed 0)"
            open_set["outliers"] = {"sources": a.negatives, "clips": len(outliers), "weight": a.outlier_weight,
                                    "takes": "split_by_take(negatives)[0]"}
    live = live_window([len(x) for x in train.clips], config.window)
    metrics = {"test": evaluate(model, test, device)} if len(test) else {}
    info = {
        "kind": "classifier",
        # A soup's recipe is its first model's; the others differ only in their seeds.
        "recipe": used[-soup_n].to_dict() | ({"soup": {"models": soup_n, "seeds": [r.seed for r in used[-soup_n:]]}}
                                             if soup_n > 1 else {}),
        "data": {"dataset": a.dataset, "protocol": a.protocol, "train": "train split", "clips": len(train),
                 "label_fraction": a.label_fraction, "test": "test split",
                 **({"self_training": {"rounds": a.self_train, "unlabelled": len(unlabelled), "log": self_log,
                                       "labeller": labeller, "labelled_recipe": used[0].to_dict(),
                                       "method": "ms2l.selftrain: the surest share of each predicted class, "
                                                 "r / rounds in round r; a fresh model each round"}}
                    if self_log is not None else {})},
        "encoder": encoder_record(a.encoder, enc_meta) if enc_meta else None,
        "metrics": metrics, "command": _command_line(), "train_seconds": wall, "machine": _machine(),
        "open_set": open_set, "live": live,
    }
    summary = {"command": "train", "model": str(out), "strategy": a.strategy, "clips": len(train),
               "test_top1": metrics.get("test", {}).get("top1"), "wall_s": wall, "device": str(device),
               "processes": info_d.world_size, "machine": _machine(), "history": history}
    save_bundle(model, out, info, summary=summary)
    distributed.shutdown()
    top1 = summary["test_top1"]
    print(f"model written to {out}" + (f" (test top-1 {top1:.2f} %)" if top1 is not None else ""), file=sys.stderr)
    return 0


def cmd_prepare(a: argparse.Namespace) -> int:
    from .data.ntu import prepare_cache

    t0 = time.perf_counter()
    if a.dataset.startswith("pkummd"):
        from .data.pkummd import prepare_pkummd
        if a.split_file is None:
            raise SystemExit("ms2l prepare: PKU-MMD needs --split-file (the dataset's cross-subject.txt or cross-view.txt)")
        manifest = prepare_pkummd(a.raw, a.out, int(a.dataset[-1]), a.split_file)
    else:
        missing = None
        if a.missing:
            missing = [line.strip() for line in a.missing.read_text().splitlines() if line.strip()]
        manifest = prepare_cache(a.raw, a.out, a.dataset, missing)
    summary = {"command": "prepare", **{k: v for k, v in manifest.items() if not isinstance(v, list)},
               "skipped_no_body": len(manifest["skipped_no_body"]), "unreadable": manifest["unreadable"],
               "cache": str(a.out), "wall_s": time.perf_counter() - t0}
    _write_json(Path(a.out) / "summary.json", summary)
    print(json.dumps(summary))
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    _need_data(a)
    from .checkpoint import load_model
    from .data import dataset_labels, load_dataset
    from .device import resolve_device
    from .evaluate import evaluate, label_mismatch

    device = resolve_device(a.device)
    model, meta = load_model(a.model, device)
    if model.classifier is None:
        raise SystemExit(f"ms2l evaluate: {a.model} is an encoder without a classifier; train one with `ms2l train`")
    from .data.merge import label_map

    def fits(labels: tuple[str, ...]) -> bool:
        # The same labels, or a model trained on merged datasets that knows all of them.
        return tuple(labels) == tuple(model.config.labels) or label_map(labels, model.config.labels) is not None

    known = dataset_labels(a.dataset)
    if known is not None and not fits(known):
        raise label_mismatch(model.config.labels, known, a.dataset)  # before reading every file
    clips = load_dataset(a.dataset, a.data, model.config, a.split, progress=not a.json, protocol=a.protocol)
    if not fits(clips.label_names):
        raise label_mismatch(model.config.labels, clips.label_names, a.dataset)
    if len(clips) == 0:
        raise SystemExit(f"ms2l evaluate: no clips in split {a.split!r} of {a.data}")
    t0 = time.perf_counter()
    result = evaluate(model, clips, device)
    result |= {"model": str(a.model), "dataset": a.dataset, "split": a.split, "seconds": time.perf_counter() - t0}
    report_evaluation(result, a.out, a.json, f"clips ({a.dataset}, {a.split})")
    return 0


def report_evaluation(result: dict[str, Any], out: Path | None, as_json: bool, what: str) -> None:
    """Write ``result`` to ``out`` (if given) and print it: one JSON line, or a per-class table."""
    if out:
        _write_json(Path(out), result)
    if as_json:
        print(json.dumps(result))
    else:
        print(f"top-1 {result['top1']:.2f} % on {result['n']} {what}")
        for name, acc in result["per_class"].items():
            print(f"  {name:<24} {'-' if acc is None else f'{acc:5.1f} %'}")


def cmd_export(a: argparse.Namespace) -> int:
    """``ms2l export MODEL --onnx OUT``: an ONNX file for other runtimes, with the model card beside it."""
    from .card import model_card
    from .checkpoint import load_model, resolve_model
    from .export import export_onnx

    path = resolve_model(a.model)
    model, meta = load_model(path)
    if model.classifier is None:
        raise SystemExit(f"ms2l export: {path} is an encoder without a classifier; train one with `ms2l train`")
    out = Path(a.onnx)
    if out.suffix != ".onnx":
        out = out.with_name(out.name + ".onnx")
    t0 = time.perf_counter()
    export_onnx(model, out, window=a.window)
    card = out.with_suffix(".md")
    card.write_text(model_card(meta, title=path.stem))
    summary = {"command": "export", "model": str(path), "onnx": str(out), "card": str(card),
               "labels": list(model.config.labels), "window": a.window or model.config.window,
               "inputs": {"x": "[batch, frames, persons, joints, coords] float32 (after ms2l.preprocess.prepare)",
                          "lengths": "[batch] int64 valid frames"},
               "outputs": {"logits": f"[batch, {len(model.config.labels)}]"},
               "seconds": time.perf_counter() - t0}
    print(json.dumps(summary))
    print(f"ONNX model written to {out}, card {card}", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction, *, optional_data: bool = False) -> dict[str, argparse.ArgumentParser]:
    """Register pretrain, train, prepare, evaluate and export on ``sub``; returns the parsers by name.

    ``optional_data``: ``--data`` is checked by the command instead of argparse, so that a
    program wrapping ``train``/``evaluate`` can offer another source of clips.
    """
    parsers: dict[str, argparse.ArgumentParser] = {}
    q = sub.add_parser("pretrain", help="self-supervised MS²L pretraining (no labels), on one dataset or a pool",
                       description="Pretrain an encoder with motion prediction, temporal jigsaw and contrastive learning "
                                   "on the training split of one dataset, or on an unlabelled pool of several "
                                   "(--dataset nw-ucla,utd-mhad,sbu,cmu --data DIR1,DIR2,DIR3,DIR4, or --dataset pool "
                                   "--data ../shared/datasets): training splits only, resampled to the model's 15 fps, "
                                   "long takes cut into windows, each person of a two-person take a clip of its own. "
                                   "Writes RUN_DIR/encoder.safetensors (its metadata lists the pool: per source the "
                                   "split used and the clip count), RUN_DIR/encoder.md and RUN_DIR/summary.json.")
    _data_args(q, pool=True)
    q.add_argument("--out", required=True, type=Path, metavar="RUN_DIR", help="folder for the encoder and summary")
    q.add_argument("--epochs", type=int, help="passes over the data (default: 40)")
    q.add_argument("--tasks", default="motion,jigsaw,contrastive", help="comma list of tasks (default: all three)")
    q.add_argument("--temperature", type=float, default=0.2, help="contrastive temperature (default: 0.2)")
    q.add_argument("--pair-views", action="store_true",
                   help="contrastive positives also from a second, independently augmented copy of each clip "
                        "(own rotation, shear, crop, speed and --views): one more encoder pass per step")
    q.add_argument("--batch-size", type=int, help="clips per step (default: 64)")
    q.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3, cosine-annealed)")
    q.add_argument("--window", type=int, default=64, help="longest clip in frames seen in training (default: 64)")
    q.add_argument("--velocity", action="store_true",
                   help="the encoder also reads each joint's frame-to-frame change (computed inside the model)")
    q.add_argument("--bone", action="store_true",
                   help="the encoder reads bone vectors (each joint minus its parent, the root's position kept) in "
                        "place of joint positions, computed inside the model: a second stream to fuse with a "
                        "joint encoder (benchmarks/fusion.py); with --velocity it also reads their change")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--init", type=Path, metavar="ENCODER",
                   help="start from this encoder (RUN_DIR/encoder.safetensors of an earlier run, same --velocity, "
                        "--bone and --window) with a fresh learning-rate schedule: pretrain longer or on more data without "
                        "starting over; the new file records the epochs before it")
    _train_args(q)
    _device_arg(q)
    q.set_defaults(func=cmd_pretrain)

    q = sub.add_parser("train", help="train a classifier (linear, prototype, finetune, joint or scratch)",
                       description="Train an action classifier on the training split and test it on the test split. "
                                   "Writes MODEL.safetensors, a model card MODEL.md and a summary MODEL.json.")
    q.add_argument("--strategy", required=True, choices=["linear", "prototype", "finetune", "joint", "scratch"],
                   help="linear: frozen encoder; finetune: all layers from the encoder; joint: classification plus the "
                        "MS²L tasks; scratch: supervised from a random encoder; prototype: frozen encoder, nearest class "
                        "mean (for a few clips per action)")
    _data_args(q, optional_data=optional_data)
    q.add_argument("--encoder", type=Path, help="pretrained encoder (RUN_DIR/encoder.safetensors, or 'default' for the "
                                                 "shipped model's); needed by linear and finetune")
    q.add_argument("--label-fraction", type=float, default=1.0, help="use this fraction of the labels, stratified per class (default: 1)")
    q.add_argument("--self-train", type=int, default=0, metavar="ROUNDS",
                   help="with --label-fraction below 1: ROUNDS rounds of self-training -- the model labels the "
                        "unlabelled rest of the training split, keeps the surest share of each class (half, then "
                        "all, for 2 rounds) and is trained afresh with them (default: 0, off; ms2l/selftrain.py)")
    q.add_argument("--pseudo-labels", default="auto", choices=["auto", "model", "spread"],
                   help="with --self-train: who labels the unlabelled clips -- the model's own top class, or label "
                        "spreading over a nearest-neighbour graph of the model's features, the model's "
                        "probabilities as prior (ms2l/propagation.py); auto spreads when the labelled clips are "
                        "fewer than 3 per action: it pays with about one clip per action, not with five "
                        "(benchmarks/results/pseudo_labels_*.md; default: auto)")
    q.add_argument("--out", required=True, type=Path, metavar="MODEL", help="model file to write (.safetensors)")
    q.add_argument("--epochs", type=int, help="training epochs (default: per strategy, see README)")
    q.add_argument("--tasks", default="motion,jigsaw,contrastive", help="joint: which MS²L tasks to add (default: all)")
    q.add_argument("--batch-size", type=int)
    q.add_argument("--lr", type=float)
    q.add_argument("--dropout", type=float, default=0.0, help="dropout before the classifier (default: 0)")
    q.add_argument("--pooling", choices=["mean", "mean+max"],
                   help="how the classifier pools the encoder's frames: mean (the paper's), or mean and max side by "
                        "side (better linear evaluation, benchmarks/results/linear_probe.md); default: the encoder's "
                        "(mean)")
    q.add_argument("--soup", type=int, default=1, metavar="N",
                   help="train N models (seeds SEED, SEED + 100, ...) and save the average of their weights, one "
                        "model of the usual size (ms2l/soup.py, benchmarks/results/fewshot.md); default: 1")
    q.add_argument("--head", choices=["linear", "cosine"],
                   help="the classifier's last layer: linear logits, or scaled cosine to each class's weights "
                        "(benchmarks/results/fewshot_recipe.md); default: linear")
    q.add_argument("--negatives", metavar="NAME[,NAME...]",
                   help="other motion to measure the open-set rejection on (pool sources, e.g. cmu,sbu; with "
                        "--negatives-data); reported in the model card, never used to set the threshold")
    q.add_argument("--negatives-data", metavar="DIR[,DIR...]", help="the --negatives folders, in the same order")
    q.add_argument("--outlier-weight", type=float, default=0.0, metavar="W",
                   help="outlier exposure: also train on half of the --negatives takes (whole takes) towards "
                        "uniform predictions, with this weight; the other half is measured (default 0: off)")
    q.add_argument("--calibrate-by", default="clip", choices=["clip", "subject"],
                   help="how the 'none of these' threshold is set: clip -- each training clip scored against class "
                        "means made without it (leave-one-out, no extra training); subject -- --calibration-folds "
                        "more models, each trained without some of the training people, score those people's clips, "
                        "so the threshold accepts 95 %% of the clips of people the model never saw, as a new user "
                        "is (benchmarks/results/openset.md; default: clip)")
    q.add_argument("--calibration-folds", type=int, default=4, metavar="N",
                   help="with --calibrate-by subject: the training people are dealt into N groups, one extra "
                        "model each (default: 4)")
    q.add_argument("--window", type=int, default=64, help="scratch/joint without encoder: longest training clip in frames")
    q.add_argument("--seed", type=int, default=0)
    _train_args(q)
    _device_arg(q)
    q.set_defaults(func=cmd_train)

    q = sub.add_parser("prepare", help="turn raw NTU RGB+D / PKU-MMD skeletons into a memory-mapped cache",
                       description="Read every .skeleton sample once (two most active bodies, official missing-sample "
                                   "list applied) into CACHE/joints.npy, confidence.npy and index.npz. Interrupted runs "
                                   "resume from the shards already written.")
    q.add_argument("--dataset", required=True, choices=["ntu60", "ntu120", "pkummd1", "pkummd2"])
    q.add_argument("--raw", required=True, type=Path,
                   help="NTU: folder of raw .skeleton files; PKU-MMD: folder with skeleton/ and label/")
    q.add_argument("--split-file", type=Path, help="PKU-MMD: the official split file (cross-subject.txt or cross-view.txt)")
    q.add_argument("--out", required=True, type=Path, metavar="CACHE", help="cache folder to write")
    q.add_argument("--missing", type=Path, help="extra list of sample names to skip (e.g. the official NTU-120 list)")
    q.set_defaults(func=cmd_prepare)

    q = sub.add_parser("evaluate", help="top-1 accuracy of a model on a dataset split",
                       description="Evaluate a model; --json prints one JSON object with top1 (%), n, per_class and confusion.")
    q.add_argument("--model", default="default", help="model file, or 'default' for the shipped model (default)")
    _data_args(q, split=True, optional_data=optional_data)
    q.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    q.add_argument("--out", type=Path, help="also write the JSON result to this file")
    _device_arg(q)
    q.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("export", help="write a model as ONNX (with its card) for other runtimes",
                       description="Export a model's encoder and classifier to ONNX (opset 17) for deployment "
                                   "elsewhere; the model card is written beside it (OUT.md). Input: prepared "
                                   "windows x[batch, frames, persons, joints, coords] and lengths[batch].")
    q.add_argument("model", help="model file, or 'default' for the shipped model")
    q.add_argument("--onnx", required=True, type=Path, metavar="OUT", help="ONNX file to write (.onnx)")
    q.add_argument("--window", type=int, default=None, help="frames of the example input (default: the model's window)")
    q.set_defaults(func=cmd_export)
    for name in ("pretrain", "train", "prepare", "evaluate", "export"):
        parsers[name] = sub.choices[name]
    return parsers


def build_parser() -> argparse.ArgumentParser:
    """The library's own program (``python -m ms2l``, ``torchrun -m ms2l``)."""
    p = argparse.ArgumentParser(prog="ms2l", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_commands(sub)
    return p


def run(args: argparse.Namespace, errors: tuple[type[BaseException], ...] | None = None) -> int:
    """Run a parsed command: bad input (``errors``, default the library's) is one line on stderr and exit 2."""
    from .errors import INPUT_ERRORS

    try:
        return args.func(args)
    except (errors or INPUT_ERRORS) as e:
        # Bad input (a file, a model trained on other labels, a wrong option value): say what, no traceback.
        print(f"ms2l {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ms2l {args.command}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
