"""Label spreading: labels follow chains of near neighbours; bad input is refused."""
import numpy as np
import pytest

from ms2l.propagation import knn_graph, spread


def _arc(start: float, stop: float, n: int, radius: float = 1.0) -> np.ndarray:
    t = np.linspace(start, stop, n)
    return np.stack([radius * np.cos(t), radius * np.sin(t)], 1)


def test_labels_follow_a_chain_where_the_nearest_labelled_clip_is_of_the_other_class():
    # Clips on a circle: chain A from angle 0 to 1.5 rad, chain B from 1.8 to 3.3, steps of about
    # 0.05 rad, each labelled at its first clip.  A's far end (1.5) is 0.3 rad from B's labelled clip
    # and 1.5 rad from A's, so a nearest-labelled rule gets it wrong; the gap between the chains is
    # wider than any clip's 3 nearest neighbours reach, so spreading keeps the chains apart.
    x = np.concatenate([_arc(0.0, 1.5, 30), _arc(1.8, 3.3, 30)])
    truth = np.array([0] * 30 + [1] * 30)
    labels = np.full(60, -1)
    labels[0], labels[30] = 0, 1
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
    assert cos(x[29], x[30]) > cos(x[29], x[0])  # the nearest labelled clip is of the other class
    proba = spread(x, labels, 2, k=3, center=False)
    assert proba.shape == (60, 2) and np.allclose(proba.sum(1), 1.0)
    assert (proba.argmax(1) == truth).all()


def test_a_clip_the_graph_does_not_reach_gets_its_prior():
    # Two separated pairs: each pair is the other's only neighbour (k = 1); the second pair has no label.
    x = np.array([[1.0, 0.0], [0.99, 0.05], [-1.0, 0.0], [-0.99, -0.05]])
    prior = np.array([[0.5, 0.5], [0.5, 0.5], [0.2, 0.8], [0.3, 0.7]])
    proba = spread(x, np.array([0, -1, -1, -1]), 2, prior=prior, k=1, center=False)
    assert proba[1].argmax() == 0
    np.testing.assert_allclose(proba[2:], prior[2:])
    # Without a prior the unreached clips are uniform.
    np.testing.assert_allclose(spread(x, np.array([0, -1, -1, -1]), 2, k=1, center=False)[2:], 0.5)


def test_the_prior_can_outweigh_a_weak_graph_link():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])  # clip 2 sits between the labelled two
    labels = np.array([0, 1, -1])
    prior = np.array([[0, 0], [0, 0], [0.0, 1.0]])
    assert spread(x, labels, 2, prior=prior, prior_weight=5.0, k=2, center=False)[2].argmax() == 1


def test_knn_graph_is_symmetric_and_has_no_self_links():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8)) + 3.0  # every pair at a positive cosine: every link has weight
    w = knn_graph(x, k=4, block=16)  # blocks smaller than N
    assert w.shape == (50, 50) and abs(w - w.T).max() < 1e-12 and w.diagonal().max() == 0
    assert (np.asarray((w > 0).sum(1)).ravel() >= 4).all()
    # The 4 links of clip 0 are its 4 most similar clips.
    s = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (x[0] / np.linalg.norm(x[0]))
    assert set(np.argsort(-s)[1:5]) <= set(w[0].indices)
    assert knn_graph(np.ones((1, 3))).nnz == 0  # one clip has no neighbour


@pytest.mark.parametrize("kwargs, match", [
    ({"features": np.full((3, 2), np.nan)}, "NaN"),
    ({"labels": np.array([0, 5, -1])}, "labels must be"),
    ({"features": np.ones((2, 2))}, "feature rows"),
    ({"alpha": 1.0}, "alpha"),
    ({"prior": np.ones((3, 3)), "prior_weight": 1.0}, "prior must be"),
])
def test_bad_input_is_refused(kwargs, match):
    args = {"features": np.eye(3), "labels": np.array([0, 1, -1]), "n_classes": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        spread(args.pop("features"), args.pop("labels"), args.pop("n_classes"), **args)
