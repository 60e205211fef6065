"""Model cards: the human-readable side of a model file's metadata."""
from __future__ import annotations

from typing import Any


def model_card(meta: dict[str, Any], title: str = "ms2l model") -> str:
    """Markdown describing a model from its metadata (config, data, recipe, metrics)."""
    cfg = meta.get("config", {})
    lines = [f"# {title}", ""]
    if meta.get("description"):
        lines += [meta["description"], ""]
    lines += [
        "## Input",
        "",
        f"- joint layout: {cfg.get('layout')} ({cfg.get('joints')} joints x {cfg.get('coords')} coordinates, "
        f"{cfg.get('persons')} person(s)), the project convention (see `pose_adapters/convention.py`)",
        f"- frame rate: {cfg.get('fps')} fps; live window: {cfg.get('window')} frames "
        f"({cfg.get('window', 0) / max(cfg.get('fps', 1), 1e-9):.1f} s)",
        f"- normalisation: `{cfg.get('normalization')}` (pose_adapters.normalize)",
        f"- encoder: `{cfg.get('encoder')}`, hidden {cfg.get('hidden')} x 2 directions, {cfg.get('layers')} layers"
        + _input_phrase(cfg)
        + ("; the classifier reads the mean and the max over frames" if cfg.get("pooling") == "mean+max" else "")
        + ("; cosine classifier head" if cfg.get("head") == "cosine" else ""),
        "",
        "## Labels",
        "",
    ]
    lines += [f"{i}. {name}" for i, name in enumerate(cfg.get("labels", []))] or ["(none: encoder only)"]
    if meta.get("data"):
        lines += ["", "## Training data", ""] + _data_lines(meta["data"])
    encoder = meta.get("encoder") or {}
    if isinstance(encoder, dict) and encoder.get("data"):
        lines += ["", "## Encoder pretraining data", ""] + _data_lines(encoder["data"])
    if isinstance(encoder, dict) and isinstance(encoder.get("recipe"), dict):
        r = encoder["recipe"]
        tasks = r.get("tasks") if isinstance(r.get("tasks"), dict) else {}
        on = [t for t in ("motion", "jigsaw", "contrastive") if tasks.get(t)]
        lines += ["", "## Encoder pretraining", "",
                  f"- self-supervised, no labels: {', '.join(on) or 'no tasks recorded'}"
                  + (" (contrastive positives also from a second, independent augmentation)" if tasks.get("pair_views") else ""),
                  f"- {r.get('epochs')} epochs, batch {r.get('batch_size')}, lr {r.get('lr')} ({r.get('schedule')}), "
                  f"extra views: {', '.join(r.get('views') or []) or 'none'}, seed {r.get('seed')}"]
    for start in (meta.get("init"), encoder.get("init") if isinstance(encoder, dict) else None):
        if isinstance(start, dict):
            lines += ["", "## Pretrained in stages", "",
                      f"- continued from `{start.get('path')}`, which had been pretrained {start.get('epochs')} "
                      "epochs: the pretraining epochs given here come on top of those, with a fresh "
                      "learning-rate schedule"]
            if isinstance(start.get("data"), dict) and start["data"] != (encoder or meta).get("data"):
                lines += ["- the earlier stage's data:"] + ["  " + x for x in _data_lines(start["data"])]
    if meta.get("recipe"):
        lines += ["", "## Recipe", ""] + [f"- {k}: {v}" for k, v in meta["recipe"].items()]
    if meta.get("command"):
        lines += ["", "## Reproduce", "", "```", meta["command"], "```"]
    o = meta.get("open_set")
    if o:
        lines += ["", "## Rejection (\"none of these\")", "",
                  f"- score: {o.get('score')} (distance to the nearest class prototype; see ms2l/openset.py)",
                  f"- threshold {o.get('threshold'):.4g}: accepts {o.get('known_accepted')} % of the "
                  + _calibration_sentence(o)]
        if o.get("negatives"):
            n = o["negatives"]
            held = " (the takes not trained on)" if o.get("outliers") else ""
            lines.append(f"- other motion ({n.get('sources', 'negatives')}){held}: {n['rejected']} % of {n['clips']} "
                         "clips rejected (measured only; the threshold is not fitted to them)")
        if o.get("outliers"):
            x = o["outliers"]
            lines.append(f"- outlier exposure: trained on {x.get('clips')} clips of other motion ({x.get('sources')}, "
                         f"half of the takes) towards favouring no action, weight {x.get('weight')}")
    if meta.get("live"):
        lv = meta["live"]
        lines += ["", "## Live window", "",
                  f"- {lv.get('window')} frames, first decision after {lv.get('min_frames')} (chosen from the "
                  "training clips' lengths: train what you serve)"]
    metrics = meta.get("metrics") or {}
    if meta.get("estimate"):
        lines += ["", "## How far to trust the accuracy", "", str(meta["estimate"])]
    if metrics:
        lines += ["", "## Metrics", ""]
        for k, v in metrics.items():
            if isinstance(v, dict) and "per_class" in v:
                how = f" (cross-validated over {v['folds']} folds)" if "folds" in v else ""
                lines += [f"- {k}: top-1 {v['top1']:.2f} % on {v['n']} clips{how}", "", "| class | top-1 % |", "| --- | --- |"]
                lines += [f"| {c} | {a:.1f} |" if a is not None else f"| {c} | - |" for c, a in v["per_class"].items()]
                lines.append("")
            else:
                lines.append(f"- {k}: {v}")
    return "\n".join(lines) + "\n"


def _calibration_sentence(o: dict[str, Any]) -> str:
    """How the threshold's known clips were scored: the rest of the sentence "accepts x % of the ..."."""
    if o.get("calibration") != "cross-validated":
        return f"{o.get('known_clips')} training clips scored leave-one-out (quantile {o.get('quantile')})"
    g = o.get("groups")
    if isinstance(g, dict):
        who = (f"{o.get('known_clips')} training clips, each scored by one of {g.get('folds')} cross-validation "
               f"models trained without its {g.get('by', 'group')} (a person the model never saw; ")
    else:
        who = f"{o.get('known_clips')} clips scored by cross-validation models that did not train on them ("
    return who + f"quantile {o.get('quantile')}; {o.get('loo_accepted')} % of the training clips scored leave-one-out)"


def _data_lines(data: dict[str, Any]) -> list[str]:
    """``- key: value`` lines; a pool's ``sources`` as a table (dataset, split used, files, clips)."""
    lines = [f"- {k}: {v}" for k, v in data.items() if k not in ("sources", "self_training")]
    st = data.get("self_training")
    if isinstance(st, dict):
        rounds = [r for r in st.get("log") or [] if isinstance(r, dict) and r.get("round")]
        said = "; ".join(f"round {r['round']}: {r.get('pseudo')} pseudo-labelled"
                         + (f", {r['pseudo_correct']:.0f} % of them right" if "pseudo_correct" in r else "")
                         for r in rounds)
        by = {"spread": "label spreading over the model's features"}.get(st.get("labeller"), "the model's own top class")
        lines.append(f"- self-training: {st.get('rounds')} rounds on the {st.get('unlabelled')} unlabelled clips of "
                     f"the training split, pseudo-labelled by {by} ({said or 'no round ran'}); the final model learnt "
                     "from those of the last round, with the recipe below")
        first = st.get("labelled_recipe")
        if isinstance(first, dict):
            lines.append(f"- the labelled clips alone were trained first for {first.get('epochs')} epochs "
                         f"at lr {first.get('lr')}")
    sources = data.get("sources")
    if isinstance(sources, list) and sources:
        lines += ["", "| source | split used | files | clips | frames |", "| --- | --- | --- | --- | --- |"]
        for r in sources:
            if isinstance(r, dict):
                split = str(r.get("split", "")) + (f"; windows of {r['windows']}" if r.get("windows") else "")
                lines.append(f"| {r.get('dataset')} | {split} | {r.get('files')} | {r.get('clips')} | {r.get('frames')} |")
    return lines


def _input_phrase(cfg: dict[str, Any]) -> str:
    """What the encoder reads, when it is more than joint positions."""
    what = "bone vectors (joint minus parent)" if cfg.get("bone") else "joints"
    if cfg.get("velocity"):
        return f"; reads {what} and their frame-to-frame change"
    return f"; reads {what} in place of joint positions" if cfg.get("bone") else ""
