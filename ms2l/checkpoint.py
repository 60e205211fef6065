"""Model files: one ``.safetensors`` file with weights and JSON metadata.

The metadata (under the key ``"ms2l"``) carries everything needed to use the
model: its :class:`~ms2l.config.ModelConfig` (labels, joint layout, frame rate,
window, normalisation), the training recipe and metrics.  Loading never
unpickles anything.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .model import MS2L

FORMAT_VERSION = 1
ASSETS_DIR = Path(os.environ.get("MS2L_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
DEFAULT_MODEL = "default.safetensors"


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason."""


def resolve_model(name: str | Path) -> Path:
    """``"default"`` -> the shipped model in ``assets/``; anything else is a path."""
    if str(name) == "default":
        path = ASSETS_DIR / DEFAULT_MODEL
        if not path.exists():
            raise ModelFileError(f"the default model is missing: {path} (see README, 'Default model')")
        return path
    path = Path(name)
    if not path.exists():
        raise ModelFileError(f"no model file at {path}")
    return path


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
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported model format {meta.get('format_version')!r}")
    return meta


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[MS2L, dict[str, Any]]:
    """Load a model file; returns ``(model in eval mode, metadata)``."""
    path = resolve_model(path)
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad model config ({e})") from None
    model = MS2L(config, with_ssl_heads=bool(meta.get("ssl_heads")))
    state = load_file(str(path))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise ModelFileError(f"{path}: weight shapes do not match the model config: {str(e).splitlines()[-1].strip()}") from None
    if unexpected or [k for k in missing if not k.startswith("classifier")]:
        raise ModelFileError(f"{path}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval(), meta
