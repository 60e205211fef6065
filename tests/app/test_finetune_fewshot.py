"""Training on a handful of clips: every clip is learnt from, accuracy is cross-validated, prototypes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.finetune import FEW_CLIPS, FinetuneSpec, binomial_ci95, cv_folds, describe_estimate, run_finetune
from app.clips import Library
from ms2l.checkpoint import load_model, read_metadata, save_model
from ms2l.config import ModelConfig
from ms2l.data import ClipSet
from ms2l.evaluate import evaluate
from ms2l.model import MS2L
from ms2l.train import default_recipe, train_classifier

torch.set_num_threads(1)
ACTIONS = {"01": "pick up with one hand", "04": "walk around", "05": "sit down"}


def test_cv_folds_hold_every_clip_out_once_and_train_on_every_action():
    labels = np.repeat([0, 1, 2], [2, 3, 7])
    folds = cv_folds(labels, seed=0)
    assert len(folds) == 2  # the smallest action has 2 clips
    held = np.concatenate(folds)
    assert sorted(held.tolist()) == list(range(len(labels)))  # each clip held out exactly once
    for f in folds:
        rest = np.setdiff1d(np.arange(len(labels)), f)
        assert set(labels[rest]) == {0, 1, 2} and set(labels[f]) == {0, 1, 2}
    assert cv_folds(np.array([0, 1, 1]), 0) == []  # one clip of an action: no estimate possible
    assert len(cv_folds(np.repeat([0, 1], 20), 0)) == 5  # capped


def test_estimate_wording_says_how_reliable():
    assert binomial_ci95(50.0, 4) > binomial_ci95(50.0, 400) > 0
    text = describe_estimate({"top1": 75.0, "n": 8, "folds": 2}, {"a": 2, "b": 6})
    assert text.startswith("2 clips per action (cross-validated, 2 folds): 75 % ±") and "±" in text
    assert "no estimate" in describe_estimate(None, {"a": 1, "b": 1})


def _blobs(n_per: int, seed: int) -> ClipSet:
    """Three separable synthetic 'actions' (different constant poses), n_per clips each."""
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for c in range(3):
        base = np.full((1, 1, 25, 3), float(c), np.float32)
        for _ in range(n_per):
            clips.append((base + rng.normal(0, 0.05, (20, 1, 25, 3))).astype(np.float32))
            labels.append(c)
    return ClipSet(clips, np.array(labels), ("a", "b", "c"))


def test_prototype_head_is_the_nearest_class_mean():
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=16, layers=1, window=32, labels=("a", "b", "c"))
    model = MS2L(cfg, with_ssl_heads=False)
    train, test = _blobs(3, 0), _blobs(4, 1)
    hist = train_classifier(model, train, default_recipe("prototype", feature_copies=2), torch.device("cpu"),
                            progress_bar=False)
    assert hist[0]["train_acc"] == 100.0 and hist[0]["tau"] > 0
    assert evaluate(model, test)["top1"] == 100.0
    # The linear layer equals the nearest-mean rule on standardised features.
    from ms2l.train import extract_features
    f = extract_features(model, test, torch.device("cpu"))
    z = model.classifier.norm(f)
    mu = (model.classifier.fc.weight * hist[0]["tau"] / 2).detach()
    nearest = torch.cdist(z, mu).argmin(1).numpy()
    assert (nearest == test.labels).all()


@pytest.fixture
def two_per_action(tmp_path, nwucla_dir) -> Library:
    lib = Library(tmp_path / "lib")
    for a in ACTIONS:
        for f in sorted(nwucla_dir.glob(f"a{a}_s0[12]_*_v01.json"))[:2]:
            lib.import_skeleton_file(f)
    return lib


@pytest.mark.parametrize("strategy", ["finetune", "prototype"])
def test_two_clips_per_action_train_on_both_and_cross_validate(two_per_action, tiny_encoder, tmp_path, strategy):
    assert set(two_per_action.labels().values()) == {2} and 2 < FEW_CLIPS
    events = []
    spec = FinetuneSpec(strategy=strategy, encoder=str(tiny_encoder), epochs=2, device="cpu")
    r = run_finetune(spec, two_per_action, out=tmp_path / "m", progress=events.append)
    assert r.n_train == 6 and r.n_val == 0  # the final model learnt from every clip
    meta = read_metadata(r.model_path)
    assert sorted(meta["clip_ids"]["train"]) == sorted(i.id for i in two_per_action.list())
    cv = meta["metrics"]["cross_validation"]
    assert cv["folds"] == 2 and cv["n"] == 6 and len(cv["fold_top1"]) == 2 and cv["ci95"] > 0
    assert r.validation is cv or r.validation == cv
    assert "2 clips per action (cross-validated, 2 folds)" in r.reliability
    assert "cross-validated" in r.card_path.read_text()
    assert any("fold 2/2" in e.get("message", "") for e in events)
    assert any("final model" in e.get("message", "") for e in events)
    fr = [e["fraction"] for e in events if "fraction" in e]
    assert fr == sorted(fr) and fr[-1] == 1.0
    model, _ = load_model(r.model_path)
    assert model.config.labels == tuple(sorted(ACTIONS.values()))
    # The rejection threshold comes from the clips the fold models held out, every clip once.
    o = meta["open_set"]
    assert o["calibration"] == "cross-validated" and o["known_clips"] == 6 and 0 <= o["loo_accepted"] <= 100
    assert float(model.classifier.threshold) == pytest.approx(o["threshold"])
    assert "cross-validation models that did not train on them" in r.card_path.read_text()
    assert r.rejection.startswith(f"accepts {o['known_accepted']:.0f} % of the clips the cross-validation models")


def test_cv_never_keeps_the_held_out_split(two_per_action, tiny_encoder, tmp_path):
    spec = FinetuneSpec(strategy="prototype", encoder=str(tiny_encoder), device="cpu", cv="never", val_fraction=0.5)
    r = run_finetune(spec, two_per_action, out=tmp_path / "m")
    meta = read_metadata(r.model_path)
    assert r.n_train == 3 and r.n_val == 3 and "cross_validation" not in meta["metrics"]
    assert meta["open_set"]["calibration"] == "leave-one-out" and meta["open_set"]["known_clips"] == 3


def test_a_soup_of_fine_tunes_is_one_model_trained_as_many_and_said_so(two_per_action, tiny_encoder, tmp_path):
    from ms2l.config import ConfigError

    with pytest.raises(ConfigError, match="soup must be a whole number of models from 1 to 10"):
        FinetuneSpec(soup=0)
    events = []
    spec = FinetuneSpec(strategy="finetune", encoder=str(tiny_encoder), epochs=1, device="cpu", cv="never",
                        val_fraction=0.0, soup=2)
    r = run_finetune(spec, two_per_action, out=tmp_path / "m", progress=events.append)
    meta = read_metadata(r.model_path)
    assert meta["recipe"]["soup"] == {"models": 2, "seeds": [0, 100]}
    assert any("model 2/2" in e.get("message", "") for e in events)
    fr = [e["fraction"] for e in events if "fraction" in e]
    assert fr == sorted(fr) and fr[-1] == 1.0
    # The saved weights are the mean of the two single fine-tunes with those seeds.
    from ms2l.soup import average_into

    singles = []
    for seed in (0, 100):
        one = run_finetune(FinetuneSpec(strategy="finetune", encoder=str(tiny_encoder), epochs=1, device="cpu",
                                        cv="never", val_fraction=0.0, seed=seed), two_per_action,
                           out=tmp_path / f"one{seed}")
        assert "soup" not in read_metadata(one.model_path)["recipe"]
        singles.append(load_model(one.model_path)[0])
    soup, _ = load_model(r.model_path)
    assert not torch.allclose(soup.classifier.fc.weight, singles[0].classifier.fc.weight)
    mean = average_into(singles)
    for name, t in soup.state_dict().items():
        if name.startswith(("encoder.", "classifier.fc", "classifier.norm.running")):
            assert torch.allclose(t.float(), mean.state_dict()[name].float(), atol=1e-5), name
