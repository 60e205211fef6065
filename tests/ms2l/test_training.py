"""Training strategies on a tiny real NW-UCLA subset."""
import numpy as np
import pytest
import torch

from ms2l.config import ModelConfig, TaskConfig
from ms2l.data import ClipDataset, collate, per_class_sample, stratified_fraction
from ms2l.data.nwucla import load_nwucla, nwucla_split
from ms2l.model import MS2L, weighted_total
from ms2l.train import Recipe, default_recipe, evaluate, pretrain, train_classifier

torch.set_num_threads(1)
SMALL = ModelConfig(hidden=48, layers=1, window=32)


@pytest.fixture(scope="module")
def clips(nwucla_small):
    return load_nwucla(nwucla_small, SMALL)


def test_reader_split_and_masks(clips):
    train, test = nwucla_split(clips, "train"), nwucla_split(clips, "test")
    assert len(train) == 40 and len(test) == 20
    assert set(train.meta["view"]) == {1, 2} and set(test.meta["view"]) == {3}
    x, lengths, y = collate([ClipDataset(train, 10**9)[i] for i in range(4)])
    assert x.shape[0] == 4 and x.shape[2:] == (1, 25, 3)
    # Variable lengths are kept (no truncation) and padding is zero.
    assert lengths.tolist() == [len(c) for c in train.clips[:4]]
    for i, n in enumerate(lengths.tolist()):
        assert torch.all(x[i, n:] == 0)


def test_stratified_fraction_is_per_class_and_seeded():
    labels = np.repeat(np.arange(10), 100)
    a = stratified_fraction(labels, 0.1, seed=3)
    assert np.bincount(labels[a]).tolist() == [10] * 10
    assert np.array_equal(a, stratified_fraction(labels, 0.1, seed=3))
    assert not np.array_equal(a, stratified_fraction(labels, 0.1, seed=4))
    assert np.bincount(labels[stratified_fraction(labels, 0.001, 0)]).tolist() == [1] * 10
    assert np.bincount(labels[per_class_sample(labels, 3, 0)]).tolist() == [3] * 10


def _ssl_losses(model, batch, tasks):
    torch.manual_seed(123)  # same jigsaw permutations before and after
    with torch.no_grad():
        return {k: float(v) for k, v in model.ssl_losses(batch[0], batch[1], tasks).items()}


def test_a_few_pretraining_steps_reduce_each_task_loss(clips):
    train = nwucla_split(clips, "train")
    torch.manual_seed(0)
    model = MS2L(SMALL)
    tasks = TaskConfig()
    batch = collate([ClipDataset(train, 32)[i] for i in range(len(train))])
    before = _ssl_losses(model, batch, tasks)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(25):
        torch.manual_seed(123)
        loss = weighted_total(model.ssl_losses(batch[0], batch[1], tasks), tasks)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _ssl_losses(model, batch, tasks)
    for task in ("motion", "jigsaw", "contrastive"):
        assert after[task] < before[task], (task, before[task], after[task])


def test_pretrain_then_each_strategy_runs(clips):
    train, test = nwucla_split(clips, "train"), nwucla_split(clips, "test")
    dev = torch.device("cpu")
    enc = MS2L(SMALL)
    hist = pretrain(enc, train, Recipe("pretrain", epochs=2, batch_size=16), dev, progress_bar=False)
    assert len(hist) == 2 and hist[-1]["loss"] > 0
    config = SMALL.replace(labels=train.label_names)
    for strategy in ("linear", "finetune", "joint", "scratch"):
        model = MS2L(config, with_ssl_heads=strategy == "joint")
        if strategy != "scratch":
            model.load_state_dict({k: v for k, v in enc.state_dict().items() if k in model.state_dict()}, strict=False)
        frozen = {k: v.clone() for k, v in model.encoder.state_dict().items()}
        h = train_classifier(model, train, Recipe(strategy, epochs=2, batch_size=16, feature_copies=2), dev,
                             progress_bar=False)
        assert len(h) == 2
        result = evaluate(model, test)
        assert result["n"] == 20 and 0 <= result["top1"] <= 100
        changed = any(not torch.equal(v, model.encoder.state_dict()[k]) for k, v in frozen.items())
        assert changed == (strategy != "linear"), strategy


def test_linear_probe_learns_the_training_set(clips):
    train = nwucla_split(clips, "train")
    model = MS2L(SMALL.replace(labels=train.label_names), with_ssl_heads=False)
    train_classifier(model, train, Recipe("linear", epochs=60, batch_size=16, augment=False), torch.device("cpu"),
                     progress_bar=False)
    assert evaluate(model, train)["top1"] > 60  # 10 classes: chance is 10 %


def test_evaluate_refuses_other_labels(clips):
    model = MS2L(SMALL.replace(labels=("a", "b")), with_ssl_heads=False)
    with pytest.raises(ValueError, match="do not match"):
        evaluate(model, nwucla_split(clips, "test"))


def test_default_recipes():
    assert default_recipe("pretrain").epochs == 40
    assert default_recipe("finetune", label_fraction=0.01).epochs == 500
    assert default_recipe("finetune", label_fraction=0.1, epochs=7).epochs == 7
    with pytest.raises(ValueError, match="unknown strategy"):
        default_recipe("magic")


def test_outlier_exposure_flattens_predictions_on_other_motion_and_keeps_the_statistics_of_known_clips():
    """``outliers`` + ``outlier_weight``: the fine-tuned model favours no class on the other motion,
    and the classifier's standardisation is that of the labelled clips alone."""
    import dataclasses

    import numpy as np
    import torch

    from ms2l.config import ModelConfig, Recipe
    from ms2l.data.clipset import ClipSet
    from ms2l.evaluate import predict
    from ms2l.model import MS2L
    from ms2l.train import extract_features, outlier_loss, train_classifier

    assert abs(float(outlier_loss(torch.zeros(3, 4))) - float(np.log(4))) < 1e-6  # uniform: log K
    rng = np.random.default_rng(0)

    def clips(offset: float, n: int) -> list[np.ndarray]:
        t = np.linspace(0, 2 * np.pi, 20, dtype=np.float32)
        return [(np.sin(t * (1 + i % 2))[:, None, None, None] * np.ones((1, 1, 25, 3), np.float32) + offset
                 + rng.normal(0, 0.05, (20, 1, 25, 3)).astype(np.float32)) for i in range(n)]

    labels = np.array([0, 1] * 8)
    known = ClipSet(clips(0.0, 16), labels, ("slow", "fast"))
    other = ClipSet(clips(3.0, 16), np.zeros(16, int), ("other",))
    cfg = ModelConfig(hidden=16, layers=1, labels=("slow", "fast"))
    recipe = Recipe(strategy="finetune", epochs=25, lr=3e-3, batch_size=8, augment=False)
    runs = {}
    for w in (0.0, 1.0):
        torch.manual_seed(0)
        model = MS2L(cfg, with_ssl_heads=False)
        train_classifier(model, known, dataclasses.replace(recipe, outlier_weight=w), torch.device("cpu"),
                         progress_bar=False, outliers=other)
        runs[w] = (predict(model, other, torch.device("cpu")).max(1).mean(),
                   predict(model, known, torch.device("cpu")).argmax(1), model)
    assert runs[1.0][0] < 0.6 < runs[0.0][0]           # near uniform (0.5) on other motion only with the loss
    assert (runs[1.0][1] == labels).mean() >= 0.9      # and the known clips are still told apart
    # The standardisation follows the known clips' features, not a mixture with the other motion's.
    model = runs[1.0][2]
    fk, fo = (extract_features(model, c, torch.device("cpu")).mean(0) for c in (known, other))
    mean = model.classifier.norm.running_mean
    assert float((mean - fk).norm()) < float((mean - (fk + fo) / 2).norm())
