"""Model files: one ``.safetensors`` file with weights and JSON metadata.

The metadata (under the key ``"ms2l"``) carries everything needed to use the
model: its :class:`~ms2l.config.ModelConfig` (labels, joint layout, frame rate,
window, normalisation), the training recipe and metrics.  Loading never
unpickles anything.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .errors import ModelFileError
from .model import MS2L

FORMAT_VERSION = 1
ASSETS_DIR = Path(os.environ.get("MS2L_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
DEFAULT_MODEL = "default.safetensors"




#: Upper bounds for sizes read from a model file's metadata: the model is built from the
#: metadata before its weights are checked, so a crafted file must not make us allocate
#: gigabytes (the shipped model: hidden 300, 2 layers, 25 joints, window 64, 10 labels).
LIMITS = {"hidden": 4096, "layers": 16, "persons": 8, "joints": 256, "window": 100_000,
          "jigsaw_segments": 16, "projection_dim": 4096, "labels": 10_000}


def check_config(config: ModelConfig) -> None:
    """Raise ValueError (saying which field) for a config no model can be built from or used with."""
    for name, top in LIMITS.items():
        v = getattr(config, name)
        if name == "labels":
            if len(v) > top or not all(isinstance(x, str) and x.strip() for x in v):
                raise ValueError(f"labels must be at most {top} non-empty strings")
            if len(set(v)) != len(v):
                raise ValueError(f"labels repeat: {sorted(k for k, n in Counter(v).items() if n > 1)[:5]}")
        elif isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= top:
            raise ValueError(f"{name} must be an integer from 1 to {top}, got {v!r}")
    if isinstance(config.coords, bool) or config.coords not in (2, 3):
        raise ValueError(f"coords must be 2 or 3, got {config.coords!r}")

    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not (number(config.fps) and 0 < config.fps <= 1000):
        raise ValueError(f"fps must be a number in (0, 1000], got {config.fps!r}")
    for name in ("dropout", "mask_ratio"):
        v = getattr(config, name)
        if not (number(v) and 0 <= v < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
    from .encoders import POOLINGS
    if config.pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {config.pooling!r}")
    from .model import HEADS
    if config.head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {config.head!r}")
    if config.normalization not in ("body", "yaw", "none"):
        raise ValueError(f"normalization must be body, yaw or none, got {config.normalization!r}")
    if not isinstance(config.layout, str):
        raise ValueError(f"layout must be a name, got {config.layout!r}")


def resolve_model(name: str | Path) -> Path:
    """The model file ``name`` means.

    ``"default"`` is the shipped model; a name of another file in ``assets/``
    (``nwucla``) is that shipped model; anything else is a path, with or without
    its ``.safetensors`` suffix (``ms2l train --out runs/mine`` writes
    ``runs/mine.safetensors``, and ``--model runs/mine`` finds it).
    """
    s = str(name)
    if s == "default":
        path = ASSETS_DIR / DEFAULT_MODEL
        if not path.exists():
            raise ModelFileError(f"the default model is missing: {path} (see README, 'Default model')")
        return path
    path = Path(name)
    if path.is_file():
        return path
    candidates = [path.with_name(path.name + ".safetensors")] if path.suffix != ".safetensors" else []
    if "/" not in s and "\\" not in s:
        candidates.append(ASSETS_DIR / (s if s.endswith(".safetensors") else s + ".safetensors"))
    for c in candidates:
        if c.is_file():
            return c
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file (an encoder from `ms2l pretrain` is "
                             f"{path / 'encoder.safetensors'})")
    raise ModelFileError(f"no model file at {path}" + (f" or {candidates[0]}" if candidates else ""))


def encoder_record(path: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What a classifier's file records of the pretrained encoder it started from (``meta``: that file's metadata)."""
    rec = {"path": str(path), "recipe": meta.get("recipe"), "data": meta.get("data")}
    if isinstance(meta.get("init"), dict):  # pretrained in stages (`ms2l pretrain --init`)
        rec["init"] = meta["init"]
    return rec


def save_model(model: MS2L, path: str | Path, info: dict[str, Any] | None = None, include_ssl_heads: bool = True) -> Path:
    """Write ``model`` and its metadata atomically to ``path`` (``.safetensors``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
             if include_ssl_heads or k.split(".")[0] in ("encoder", "classifier")}
    meta = {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "ssl_heads": include_ssl_heads and model.has_ssl_heads,
        **(info or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={"ms2l": json.dumps(meta)})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def save_bundle(model: MS2L, path: str | Path, info: dict[str, Any], *, summary: dict[str, Any] | None = None,
                include_ssl_heads: bool = False, title: str | None = None) -> Path:
    """A trained model as its user gets it: ``MODEL.safetensors``, its card ``MODEL.md`` and, when
    ``summary`` is given, ``MODEL.json`` -- each written atomically (temporary file, then rename).

    ``path`` without the ``.safetensors`` suffix gets it.  Returns the model file's path.
    """
    from .card import model_card

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    save_model(model, path, info, include_ssl_heads=include_ssl_heads)
    write_text_atomic(path.with_suffix(".md"), model_card(info | {"config": model.config.to_dict()}, title=title or path.stem))
    if summary is not None:
        write_text_atomic(path.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return path


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers see the old file or the new."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("ms2l")
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(
            f"{path} is not a safetensors model file ({e}); ms2l never loads pickled checkpoints"
        ) from None
    if raw is None:
        raise ModelFileError(f"{path} has no ms2l metadata: it was not written by ms2l")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata is not a JSON object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported model format {meta.get('format_version')!r}")
    return meta


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[MS2L, dict[str, Any]]:
    """Load a model file; returns ``(model in eval mode, metadata)``."""
    path = resolve_model(path)
    meta = read_metadata(path)
    try:
        if not isinstance(meta["config"].get("labels", []), list):  # a string would become one label per letter
            raise ValueError(f"labels must be a list of names, got {meta['config']['labels']!r:.60}")
        config = ModelConfig.from_dict(meta["config"])
        check_config(config)
        from .encoders import ENCODERS
        if config.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {config.encoder!r}; known: {', '.join(sorted(ENCODERS))}")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"{path}: bad model config ({e})") from None
    model = MS2L(config, with_ssl_heads=bool(meta.get("ssl_heads")))
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:  # header fine, data damaged or cut short
        raise ModelFileError(f"{path}: cannot read the weights ({e})") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        # NaN/inf weights make every prediction NaN: refuse the file rather than show garbage.
        raise ModelFileError(f"{path}: weights contain NaN or infinite values ({', '.join(bad[:3])})")
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise ModelFileError(f"{path}: weight shapes do not match the model config: {str(e).splitlines()[-1].strip()}") from None
    if unexpected or [k for k in missing if not k.startswith("classifier")]:
        raise ModelFileError(f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    from .openset import check_open_set

    o = check_open_set(meta, path)
    if o is not None and (model.classifier is None or abs(float(model.classifier.threshold) - float(o["threshold"]))
                          > 1e-6 * max(1.0, float(o["threshold"]))):
        raise ModelFileError(f"{path}: the open-set threshold in the metadata ({o['threshold']}) does not match "
                             "the one stored with the weights: the file was altered")
    live = meta.get("live")
    if live is not None:
        ok = isinstance(live, dict) and all(isinstance(live.get(k), int) and not isinstance(live.get(k), bool)
                                            and 1 <= live[k] <= LIMITS["window"] for k in ("window", "min_frames"))
        if not ok:
            raise ModelFileError(f"{path}: bad live window {live!r:.80} (window and min_frames must be frame counts)")
    return model.to(device).eval(), meta
