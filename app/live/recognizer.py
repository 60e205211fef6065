"""The recogniser: a model file in, class probabilities for a window out.

Two backends run the same model:

* ``onnx``: ONNX Runtime on CPU, one thread (about twice as fast as torch at
  batch 1 on this kind of machine, and it leaves the other core to the pose stage);
  the model is exported once by :func:`ms2l.export.cached_onnx` and cached.
* ``torch``: PyTorch on the chosen device (CUDA when present with ``device="auto"``).
* ``int8``: PyTorch on CPU with the GRU and linear layers dynamically quantised to
  int8 (faster still on CPU; see ``benchmarks/results/latency.md`` for its accuracy).

``backend="auto"`` picks ONNX Runtime on CPU and torch on CUDA.  Every window
goes through :func:`ms2l.preprocess.prepare`, the same function training used.
:meth:`Recognizer.swap` replaces the model while another thread predicts: the
new model is loaded completely before one attribute assignment switches over.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from ms2l.errors import ConfigError, ModelFileError
from ms2l.config import ModelConfig
from ms2l.model import MS2L
from ms2l.preprocess import prepare

from ..types import Prediction, Window

ModelSpec = Union[str, Path, MS2L]
BACKENDS = ("auto", "torch", "onnx", "int8")
#: What the live pipeline feeds a model: NTU-25 skeletons in 3D (``app.live.pose.pose_to_skeleton``).
LIVE_LAYOUT = ("ntu25", 25, 3)


def resolve_device(device: str = "auto") -> str:
    """The device name the recogniser runs on (:func:`ms2l.device.resolve_device`, as a string)."""
    from ms2l.device import resolve_device as _resolve

    return str(_resolve(device))


@dataclass(frozen=True)
class _Loaded:
    """One loaded model and the function that runs it: ``run(x[1, T, M, V, C]) -> (probs[K], novelty)``.

    ``open_set``: the model file's calibrated rejection (None: the model has none, novelty is ignored).
    """

    name: str
    config: ModelConfig
    meta: dict
    backend: str
    device: str
    run: Callable[[np.ndarray], tuple[np.ndarray, float]]
    open_set: dict | None = None


def _load(model: ModelSpec, device: str, backend: str, threads: int) -> _Loaded:
    import torch

    from ms2l.checkpoint import load_model

    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    dev = resolve_device(device)
    if isinstance(model, MS2L):
        net, meta, name = model, {}, "<in-memory model>"
    else:
        net, meta = load_model(model, "cpu")
        name = "default" if str(model) == "default" else str(model)
    if net.classifier is None:
        raise ModelFileError(f"{name} is an encoder without a classifier: train one with `ms2l train`")
    cfg = net.config
    if (cfg.layout, cfg.joints, cfg.coords) != LIVE_LAYOUT:
        raise ModelFileError(f"{name} expects {cfg.layout} skeletons ({cfg.joints} joints x {cfg.coords} coordinates), "
                             f"but the live pipeline gives {LIVE_LAYOUT[0]} ({LIVE_LAYOUT[1]} x {LIVE_LAYOUT[2]}): "
                             "this model cannot run here")
    net = net.eval()
    if backend == "auto":
        backend = "onnx" if dev == "cpu" else "torch"
    if backend == "onnx":
        if dev != "cpu":
            raise ConfigError("the onnx backend runs on the CPU only (use backend='torch' for CUDA)")
        import onnxruntime as ort

        from ms2l.export import cached_onnx

        path = cached_onnx(net)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

        def run(x: np.ndarray) -> np.ndarray:
            probs, novelty = session.run(None, {"x": x})
            return probs[0], float(novelty[0])
    else:
        if backend == "int8":
            if dev != "cpu":
                raise ConfigError("the int8 backend runs on the CPU only")
            import warnings

            with warnings.catch_warnings():  # eager dynamic quantisation is deprecated in torch, and still works
                warnings.simplefilter("ignore")
                net = torch.ao.quantization.quantize_dynamic(net, {torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
        net = net.to(dev)

        def run(x: np.ndarray) -> tuple[np.ndarray, float]:
            with torch.inference_mode():
                xt = torch.from_numpy(x).to(dev)
                lengths = torch.tensor([x.shape[1]], device=dev)
                f = net.features(xt, lengths)
                probs = torch.softmax(net.classifier(f), dim=-1)[0].float().cpu().numpy()
                return probs, float(net.classifier.novelty(f)[0])
    # One probe window through the chosen backend: a model whose outputs do not match its labels,
    # or that gives NaN, is refused now instead of failing (or showing garbage) on every frame.
    probe = np.asarray(run(np.zeros((1, 2, cfg.persons, cfg.joints, cfg.coords), np.float32))[0])
    if probe.shape != (cfg.num_classes,):
        raise ModelFileError(f"{name} gives {probe.size} outputs but names {cfg.num_classes} labels")
    if not np.isfinite(probe).all():
        raise ModelFileError(f"{name} gives NaN or infinite outputs: the model is broken")
    # load_model validated the entry (and its match with the weights); an in-memory model has none.
    return _Loaded(name=name, config=cfg, meta=meta, backend=backend, device=dev, run=run,
                   open_set=meta.get("open_set"))


class Recognizer:
    """Runs a classifier on windows.

    Args:
        model: a model file, ``"default"`` (``assets/default.safetensors``) or an
            :class:`~ms2l.model.MS2L` instance.
        device: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``.
        backend: ``auto`` (ONNX Runtime on CPU, torch on CUDA), ``torch``, ``onnx`` or ``int8``.
        threads: ONNX Runtime intra-op threads (1 leaves a core to the pose stage).
    """

    def __init__(self, model: ModelSpec = "default", device: str = "auto", backend: str = "auto", threads: int = 1):
        self.threads = int(threads)
        self._requested = (device, backend)
        self._lock = threading.Lock()
        self._active = _load(model, device, backend, self.threads)

    # -- what is loaded (read from one snapshot of the active model) -----------------------
    @property
    def config(self) -> ModelConfig:
        return self._active.config

    @property
    def labels(self) -> tuple[str, ...]:
        return self._active.config.labels

    @property
    def fps(self) -> float:
        return self._active.config.fps

    @property
    def name(self) -> str:
        return self._active.name

    @property
    def meta(self) -> dict[str, Any]:
        return self._active.meta

    @property
    def backend(self) -> str:
        return self._active.backend

    @property
    def device(self) -> str:
        return self._active.device

    # -- run ---------------------------------------------------------------------------------
    def prepare(self, window: Window, max_frames: int | None = None) -> np.ndarray:
        """``Window`` -> model input ``x[1, T', M, V, C]`` float32 (``T'`` may be 0).

        Uses :func:`ms2l.preprocess.prepare` (normalisation, persons, resampling
        from ``window.fps``), then keeps the last ``max_frames`` frames
        (default the model's ``config.window``).
        """
        return self._prepare(self._active.config, window, max_frames)

    @staticmethod
    def _prepare(config: ModelConfig, window: Window, max_frames: int | None) -> np.ndarray:
        x = prepare(window.joints, window.confidence, config, source_fps=window.fps)
        keep = int(max_frames or config.window)
        return np.ascontiguousarray(x[-keep:][None], dtype=np.float32)

    def predict(self, window: Window, frame_index: int = -1, max_frames: int | None = None) -> Prediction | None:
        """Class probabilities for ``window``; None when no frame of it shows a person (or the
        model cannot score it: probabilities are never NaN)."""
        active = self._active  # one read: a concurrent swap cannot mix two models
        x = self._prepare(active.config, window, max_frames)
        if x.shape[1] == 0:
            return None
        probs, novelty = active.run(x)
        probs = np.asarray(probs, np.float64)
        if not np.isfinite(probs).all() or probs.sum() <= 0:
            return None  # an input the model cannot score (absurd joint values): no prediction, never NaN
        probs = probs / probs.sum()  # float32 softmax sums to 1 within 1e-7; make it exact for consumers
        nov = float(novelty) if active.open_set is not None and np.isfinite(novelty) else None
        return Prediction(t=float(window.t[-1]), probs=probs.astype(np.float32), labels=active.config.labels,
                          frame_index=frame_index, novelty=nov)

    @property
    def open_set(self) -> dict | None:
        """The model's calibrated rejection (``threshold``, ``quantile``, measured shares), or None."""
        return self._active.open_set

    def swap(self, model: ModelSpec, device: str | None = None, backend: str | None = None) -> None:
        """Load ``model`` and switch to it; safe while other threads call :meth:`predict`.

        The old model keeps serving until the new one is fully loaded; a model
        that fails to load raises here and leaves the old one in place.
        """
        device = device or self._requested[0]
        backend = backend or self._requested[1]
        with self._lock:  # serialise swaps; predict never takes this lock
            loaded = _load(model, device, backend, self.threads)
            self._requested = (device, backend)
            self._active = loaded

    def __repr__(self) -> str:
        return f"Recognizer({self.name!r}, backend={self.backend!r}, device={self.device!r}, {len(self.labels)} labels)"
