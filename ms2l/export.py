"""Export a classifier (encoder + classifier) to ONNX for fast CPU inference.

The exported graph takes one window ``x[1, T, M, V, C]`` float32 (``T`` is a
dynamic axis) and returns class probabilities ``probs[1, K]``.  A live window
has no padding, so the encoder runs its plain (unpacked) kernel, which is exact
and exportable; pooling is over all ``T`` frames, the same as
:func:`ms2l.encoders.pool` with ``lengths = T``.

ONNX files are cached by the model's weights and config (a hash), in the user
cache folder (``$MS2L_CACHE`` overrides it), so each model is exported once.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .model import MS2L

OPSET = 17
EXPORT_VERSION = 2  # bump when the exported graph changes (2: a novelty output)


class _ProbsModule(nn.Module):
    """``x[B, T, M, V, C] -> (probs[B, K], novelty[B])``: softmax of the classifier on the
    time-pooled encoder features, and the open-set novelty (:meth:`Classifier.novelty`)."""

    def __init__(self, model: MS2L):
        super().__init__()
        if model.classifier is None:
            raise ValueError("this model has no classifier: only classifiers can be exported")
        self.encoder = model.encoder
        self.classifier = model.classifier
        self.pooling = model.config.pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)  # [B, T, D]
        # lengths = T for every sample, computed as a tensor so the T axis stays dynamic in the trace.
        lengths = torch.ones_like(flat[:, :, 0]).sum(1).to(torch.int64)
        h = self.encoder(flat, lengths)  # [B, T, F]
        f = h.mean(1)                    # [B, F]
        if self.pooling == "mean+max":
            f = torch.cat([f, h.amax(1)], 1)  # [B, 2F]
        return torch.softmax(self.classifier(f), dim=-1), self.classifier.novelty(f)


def model_fingerprint(model: MS2L) -> str:
    """A short hash of the weights and config that an exported file depends on."""
    h = hashlib.sha256()
    h.update(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    h.update(f"export{EXPORT_VERSION}-opset{OPSET}-torch{torch.__version__.split('+')[0]}".encode())
    for name, t in sorted(model.state_dict().items()):
        if name.startswith(("encoder.", "classifier.")):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    env = os.environ.get("MS2L_CACHE")
    if env:
        return Path(env) / "onnx"
    try:
        from platformdirs import user_cache_dir
        return Path(user_cache_dir("ms2l-live")) / "onnx"
    except ImportError:  # pragma: no cover
        return Path.home() / ".cache" / "ms2l-live" / "onnx"


def export_onnx(model: MS2L, path: str | Path, window: int | None = None) -> Path:
    """Write ``model`` (eval mode, CPU) as ONNX to ``path``; returns the path.

    ``window`` is only the example length used for tracing (default the
    model's ``config.window``); the exported ``T`` axis is dynamic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    was_training = model.training
    module = _ProbsModule(model).cpu().eval()
    T = int(window or cfg.window)
    example = torch.zeros(1, T, cfg.persons, cfg.joints, cfg.coords)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The GRU's batch_first/exporter notes are expected and not actionable.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (example,), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=["x"], output_names=["probs", "novelty"],
                dynamic_axes={"x": {1: "T"}, "probs": {}, "novelty": {}},
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        model.train(was_training)
    return path


def cached_onnx(model: MS2L, directory: str | Path | None = None) -> Path:
    """The ONNX file for ``model`` in the cache, exporting it on first use."""
    directory = Path(directory) if directory is not None else cache_dir()
    path = directory / f"ms2l-{model_fingerprint(model)}.onnx"
    if not path.exists():
        export_onnx(model, path)
    return path
