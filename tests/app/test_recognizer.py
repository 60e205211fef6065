"""Recognizer: torch and ONNX Runtime agree, ONNX export and cache, thread-safe model swap."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from app.live.recognizer import Recognizer
from app.types import Window
from fakes import LABELS, body, tiny_model
from ms2l.checkpoint import ASSETS_DIR, DEFAULT_MODEL, ModelFileError, load_model
from ms2l.export import cached_onnx, export_onnx


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return tiny_model(d / "a.safetensors"), tiny_model(d / "b.safetensors", labels=("sit", "stand"), seed=1, fps=30.0)


def window(T: int = 16, fps: float = 15.0, t0: float = 0.0) -> Window:
    t = t0 + np.arange(T) / fps
    return Window(joints=np.stack([body(ti) for ti in t]), confidence=np.ones((T, 25), np.float32), t=t, fps=fps)


def test_torch_and_onnx_agree(models):
    a, _ = models
    rt, ro = Recognizer(a, device="cpu", backend="torch"), Recognizer(a, device="cpu", backend="onnx")
    assert (rt.backend, ro.backend) == ("torch", "onnx") and Recognizer(a, device="cpu").backend == "onnx"
    w = window()
    pt, po = rt.predict(w, frame_index=7), ro.predict(w)
    assert pt.labels == LABELS and pt.frame_index == 7 and pt.t == pytest.approx(w.t[-1])
    assert pt.probs.shape == (3,) and pt.probs.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(pt.probs, po.probs, atol=1e-5)
    pq = Recognizer(a, device="cpu", backend="int8").predict(w)
    np.testing.assert_allclose(pq.probs, pt.probs, atol=0.02)  # int8 weights: close, not equal


def test_prepare_uses_the_training_preprocessing(models):
    from ms2l.preprocess import prepare

    r = Recognizer(models[0], device="cpu")
    w = window(T=20)
    x = r.prepare(w)
    assert x.shape == (1, 16, 1, 25, 3), "cut to the model's window"
    np.testing.assert_allclose(x[0], prepare(w.joints, w.confidence, r.config, source_fps=15.0)[-16:])
    # Body-centred: spine base at the origin in the first frame.
    np.testing.assert_allclose(prepare(w.joints, w.confidence, r.config)[0, 0, 0], 0, atol=1e-5)


def test_window_at_another_rate_is_resampled(models):
    r = Recognizer(models[0], device="cpu")  # model at 15 fps
    x = r.prepare(window(T=31, fps=30.0), max_frames=100)
    assert x.shape[1] == 16


def test_nobody_in_the_window_gives_no_prediction(models):
    r = Recognizer(models[0], device="cpu")
    w = window()
    empty = Window(joints=w.joints, confidence=np.zeros_like(w.confidence), t=w.t, fps=w.fps)
    assert r.predict(empty) is None


@pytest.mark.parametrize("T", [1, 7, 64])
def test_onnx_export_matches_torch_at_any_length(models, tmp_path, T):
    import onnxruntime as ort

    model, _ = load_model(models[0])
    path = export_onnx(model, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(1, T, 1, 25, 3)
    with torch.inference_mode():
        ref = torch.softmax(model(x, torch.tensor([T])), -1).numpy()
    np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, atol=1e-5)


def test_onnx_cache_is_reused_and_keyed_by_weights(models, tmp_path):
    a, b = load_model(models[0])[0], load_model(models[1])[0]
    pa = cached_onnx(a, tmp_path)
    mtime = pa.stat().st_mtime_ns
    assert cached_onnx(load_model(models[0])[0], tmp_path) == pa and pa.stat().st_mtime_ns == mtime
    assert cached_onnx(b, tmp_path) != pa


def test_swap_while_predicting(models):
    a, b = models
    r = Recognizer(a, device="cpu")
    w = {LABELS: window(), ("sit", "stand"): window(T=32, fps=30.0)}
    seen, errors, stop = set(), [], threading.Event()

    def predict_loop():
        while not stop.is_set():
            try:
                p = r.predict(window())
                assert p.probs.shape == (len(p.labels),)
                seen.add(p.labels)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                return

    th = threading.Thread(target=predict_loop)
    th.start()
    try:
        for m in (b, a, b):
            r.swap(m)
    finally:
        stop.set()
        th.join()
    assert errors == [] and r.labels == ("sit", "stand") and r.fps == 30.0
    assert LABELS in seen
    assert r.predict(w[("sit", "stand")]).labels == ("sit", "stand")


def test_failed_swap_keeps_the_old_model(models, tmp_path):
    r = Recognizer(models[0], device="cpu")
    with pytest.raises(ModelFileError):
        r.swap(tmp_path / "missing.safetensors")
    assert r.labels == LABELS and r.predict(window()) is not None


def test_bad_device_and_backend(models):
    with pytest.raises(ValueError):
        Recognizer(models[0], backend="tensorrt")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            Recognizer(models[0], device="cuda")


def test_in_memory_model():
    from ms2l.config import ModelConfig
    from ms2l.model import MS2L

    r = Recognizer(MS2L(ModelConfig(labels=("x", "y"), hidden=16, layers=1), with_ssl_heads=False), device="cpu")
    assert r.predict(window()).labels == ("x", "y")


def test_default_model():
    # Tracked in git: a checkout without it is broken, not a reason to skip.
    assert (ASSETS_DIR / DEFAULT_MODEL).is_file(), f"{ASSETS_DIR / DEFAULT_MODEL} is missing from the checkout"
    r = Recognizer("default", device="cpu")
    p = r.predict(window(T=r.config.window))
    assert p.probs.sum() == pytest.approx(1.0, abs=1e-5) and len(p.labels) == len(r.labels)
