"""Self-training: which unlabelled clips are kept, and the loop that learns from them."""
import numpy as np
import pytest
import torch

from ms2l.data.clipset import ClipSet
from ms2l.errors import Cancelled
from ms2l.selftrain import merge, select_confident, self_train


def test_select_confident_keeps_the_surest_of_each_predicted_class_and_caps_a_flooding_class():
    # Six clips predicted class 0, two class 1: with share 0.5 the cap is ceil(0.5 * 8 / 2) = 2 per class.
    proba = np.array([[0.99, 0.01], [0.6, 0.4], [0.9, 0.1], [0.7, 0.3], [0.95, 0.05], [0.55, 0.45],
                      [0.2, 0.8], [0.45, 0.55]])
    idx, labels = select_confident(proba, 0.5)
    assert idx.tolist() == [0, 4, 6, 7]  # the two surest class-0 clips, both class-1 clips
    assert labels.tolist() == [0, 0, 1, 1]
    idx, _ = select_confident(proba, 1.0)  # cap 4: the four surest class-0 clips
    assert idx.tolist() == [0, 2, 3, 4, 6, 7]
    with pytest.raises(ValueError, match="share"):
        select_confident(proba, 0.0)
    assert len(select_confident(np.zeros((0, 3)), 1.0)[0]) == 0


def test_merge_appends_pseudo_labelled_clips_after_the_labelled_ones():
    a = ClipSet([np.zeros((3, 1, 25, 3), np.float32)], np.array([1]), ("x", "y"), ["a"])
    u = ClipSet([np.ones((4, 1, 25, 3), np.float32)] * 3, np.array([-1, -1, -1]), ("x", "y"), ["u0", "u1", "u2"])
    m = merge(a, u, np.array([2, 0]), np.array([0, 1]))
    assert m.labels.tolist() == [1, 0, 1] and m.names == ["a", "u2", "u0"] and len(m.clips) == 3


class _SignModel(torch.nn.Module):
    """A stand-in classifier: class 0 when a clip's mean coordinate is positive, confidence grows with it."""

    def forward(self, x, lengths):
        m = x.flatten(1).sum(1) / (lengths.float() * x[0, 0].numel())
        return torch.stack([4 * m, -4 * m], 1)


def _clips(values):
    return [np.full((5, 1, 25, 3), v, np.float32) for v in values]


def test_self_train_grows_the_training_set_by_round_and_reports_pseudo_label_accuracy():
    labelled = ClipSet(_clips([1.0, -1.0]), np.array([0, 1]), ("pos", "neg"))
    values = [0.9, 0.5, 0.1, -0.2, -0.6, -0.05]
    truth = np.array([0, 0, 0, 1, 1, 0])  # the last clip's sign disagrees with its truth
    unlabelled = ClipSet(_clips(values), np.full(6, -1), ("pos", "neg"))
    seen = []

    def fit(train):
        seen.append((len(train), train.labels.tolist()))
        return _SignModel()

    model, log = self_train(fit, labelled, unlabelled, rounds=2, truth=truth)
    assert isinstance(model, _SignModel)
    # Round 1 keeps ceil(0.5 * 6 / 2) = 2 per predicted class; round 2 keeps up to 3 per class: all six.
    assert [n for n, _ in seen] == [2, 6, 8]
    assert seen[1][1] == [0, 1, 0, 0, 1, 1]  # labelled, then clips 0, 1 (surest pos) and 3, 4 (surest neg)
    assert [r["pseudo"] for r in log] == [0, 4, 6]
    assert log[1]["pseudo_correct"] == pytest.approx(100.0)  # the doubtful clip 5 is left out
    assert log[2]["pseudo_correct"] == pytest.approx(100 * 5 / 6)  # now in, called neg (truth pos)


def test_self_train_without_rounds_is_plain_training_and_it_can_be_cancelled():
    labelled = ClipSet(_clips([1.0, -1.0]), np.array([0, 1]), ("pos", "neg"))
    unlabelled = ClipSet(_clips([0.3, -0.3]), np.full(2, -1), ("pos", "neg"))
    calls = []
    _, log = self_train(lambda t: calls.append(len(t)) or _SignModel(), labelled, unlabelled, rounds=0)
    assert calls == [2] and len(log) == 1
    with pytest.raises(Cancelled):
        self_train(lambda t: _SignModel(), labelled, unlabelled, rounds=2, should_stop=lambda: True)
    with pytest.raises(ValueError, match="labelled"):
        self_train(lambda t: _SignModel(), labelled.subset([]), unlabelled)


class _AngleClassifier(torch.nn.Module):
    """Class 0 for every angle below 1.0 (read back from its point on the unit circle)."""

    def forward(self, f):
        m = 1.0 - torch.atan2(f[:, 1], f[:, 0])
        return torch.stack([4 * m, -4 * m], 1)


class _AngleModel(torch.nn.Module):
    """A stand-in whose clips are angles (their mean coordinate): features on the unit circle,
    and a classifier that calls every angle below 1.0 class 0 -- wrong for chain A's far end."""

    def __init__(self):
        super().__init__()
        self.classifier = _AngleClassifier()

    def features(self, x, lengths):
        v = x.flatten(1).sum(1) / (lengths.float() * x[0, 0].numel())
        return torch.stack([v.cos(), v.sin()], 1)

    def forward(self, x, lengths):
        return self.classifier(self.features(x, lengths))


def test_spreading_labels_fixes_what_the_classifier_gets_wrong_along_a_chain_of_clips():
    from ms2l.selftrain import pseudo_proba

    a, b = np.linspace(0.05, 1.5, 30), np.linspace(2.55, 3.1, 30)  # two chains, a 1-rad gap between them
    labelled = ClipSet(_clips([0.0, 2.5]), np.array([0, 1]), ("a", "b"))
    unlabelled = ClipSet(_clips(np.concatenate([a, b])), np.full(60, -1), ("a", "b"))
    truth = np.array([0] * 30 + [1] * 30)
    model = _AngleModel()
    by_model = pseudo_proba(model, labelled, unlabelled, labeller="model").argmax(1)
    assert (by_model != truth).sum() >= 9  # angles 1.0 to 1.5 of chain A
    by_spread = pseudo_proba(model, labelled, unlabelled, labeller="spread").argmax(1)
    assert (by_spread == truth).all()
    with pytest.raises(ValueError, match="labeller"):
        pseudo_proba(model, labelled, unlabelled, labeller="oracle")
    with pytest.raises(ValueError, match="labeller"):
        self_train(lambda t: model, labelled, unlabelled, labeller="oracle")


def test_auto_spreads_labels_only_when_each_action_has_fewer_than_three_labelled_clips():
    from ms2l.selftrain import resolve_labeller

    two_each = ClipSet(_clips([0.0] * 4), np.array([0, 0, 1, 1]), ("a", "b"))
    three_each = ClipSet(_clips([0.0] * 6), np.array([0, 0, 0, 1, 1, 1]), ("a", "b"))
    assert resolve_labeller("auto", two_each) == "spread"
    assert resolve_labeller("auto", three_each) == "model"
    assert resolve_labeller("model", two_each) == "model" and resolve_labeller("spread", three_each) == "spread"
    with pytest.raises(ValueError, match="labeller"):
        resolve_labeller("vote", two_each)

