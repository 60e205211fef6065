"""The classifier's last layer: linear logits or scaled cosine (``ModelConfig.head``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ms2l.config import ModelConfig
from ms2l.model import COSINE_SCALE, MS2L, Classifier

torch.manual_seed(0)


def test_cosine_logits_are_bounded_by_the_scale_and_ignore_the_feature_norm():
    clf = Classifier(6, 3, head="cosine").eval()
    clf.norm.running_mean.zero_()
    clf.norm.running_var.fill_(1.0)
    f = torch.randn(4, 6)
    logits = clf(f) - clf.fc.bias
    assert logits.abs().max() <= COSINE_SCALE + 1e-4
    assert torch.allclose(clf(3 * f), clf(f), atol=1e-5)      # only the direction counts
    assert not torch.allclose(Classifier(6, 3)(3 * f), Classifier(6, 3)(f))
    with pytest.raises(ValueError, match="unknown classifier head 'softmax'"):
        Classifier(6, 3, head="softmax")


def test_the_file_carries_the_head_and_the_exported_graph_agrees(tmp_path):
    from ms2l.checkpoint import check_config, load_model, save_model
    from ms2l.export import export_onnx

    with pytest.raises(ValueError, match="head must be one of linear, cosine"):
        check_config(ModelConfig(head="arcface"))
    model = MS2L(ModelConfig(hidden=8, layers=1, head="cosine", labels=("a", "b", "c")), with_ssl_heads=False).eval()
    path = save_model(model, tmp_path / "m.safetensors", {"kind": "classifier"}, include_ssl_heads=False)
    loaded, _ = load_model(path)
    assert loaded.config.head == "cosine" and loaded.classifier.head == "cosine"
    window = torch.randn(1, 20, 1, 25, 3)
    ref = loaded(window, torch.tensor([20])).softmax(-1).detach().numpy()
    assert np.allclose(ref, model(window, torch.tensor([20])).softmax(-1).detach().numpy(), atol=1e-6)
    onnx = pytest.importorskip("onnxruntime")
    sess = onnx.InferenceSession(str(export_onnx(loaded, tmp_path / "m.onnx")))
    assert np.allclose(sess.run(["probs"], {"x": window.numpy()})[0], ref, atol=1e-5)


def test_prototype_strategy_under_a_cosine_head_names_the_nearest_class_mean_by_angle():
    from ms2l.config import Recipe
    from ms2l.data.clipset import ClipSet
    from ms2l.train import extract_features, train_classifier

    rng = np.random.default_rng(0)
    cfg = ModelConfig(hidden=8, layers=1, head="cosine", labels=("a", "b"))
    model = MS2L(cfg, with_ssl_heads=False)
    # Two kinds of motion: slow drift and fast shaking.
    clips, labels = [], []
    for i in range(8):
        t = np.linspace(0, 1, 20)[:, None, None, None]
        base = rng.normal(size=(1, 1, 25, 3)).astype(np.float32) * 0.1
        if i % 2:
            x = base + np.sin(40 * t) * 0.5
        else:
            x = base + t
        clips.append(x.astype(np.float32))
        labels.append(i % 2)
    train = ClipSet(clips, np.array(labels), ("a", "b"))
    train_classifier(model, train, Recipe(strategy="prototype", epochs=1, augment=False), torch.device("cpu"),
                     progress_bar=False)
    z = model.classifier.norm(extract_features(model, train, torch.device("cpu")))
    cos = torch.nn.functional.normalize(z, dim=1) @ torch.nn.functional.normalize(model.classifier.fc.weight, dim=1).T
    with torch.no_grad():
        logits = model.classifier(extract_features(model, train, torch.device("cpu")))
    assert torch.equal(logits.argmax(1), cos.argmax(1))
    assert torch.all(model.classifier.fc.bias == 0)


def test_a_soup_is_the_mean_of_its_models_weights_and_refuses_mixed_configs():
    from ms2l.soup import average_into

    cfg = ModelConfig(hidden=8, layers=1, labels=("a", "b"))
    models = [MS2L(cfg, with_ssl_heads=False) for _ in range(3)]
    expect = {k: torch.stack([m.state_dict()[k].float() for m in models]).mean(0)
              for k, v in models[0].state_dict().items() if v.is_floating_point()}
    soup = average_into(models)
    assert soup is models[0]
    for k, v in expect.items():
        assert torch.allclose(soup.state_dict()[k].float(), v, atol=1e-6), k
    with pytest.raises(ValueError, match="same tensors"):
        average_into([MS2L(cfg, with_ssl_heads=False), MS2L(cfg.replace(labels=("a", "b", "c")), with_ssl_heads=False)])
    with pytest.raises(ValueError, match="at least one"):
        average_into([])
