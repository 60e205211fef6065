"""Label spreading over a nearest-neighbour graph of clip features (Zhou et al., NIPS 2003).

Self-training asks the model to label the clips it has not been told about.  A model trained
on five clips per action labels them one at a time; spreading labels them together: clips
whose features are close share a label, so a chain of near neighbours can carry a label
from a labelled clip to one the classifier gets wrong.  The graph links each clip to its
``k`` most cosine-similar clips, weights ``max(0, s) ** power``, symmetrised and
normalised, ``S = D^-1/2 W D^-1/2``; the spread labels solve ``(I - alpha S) F = Y``, where
``Y`` holds the labelled clips' one-hot rows and, optionally, the classifier's own
probabilities for the unlabelled ones, weighted by ``prior``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg


def knn_graph(features: np.ndarray, k: int = 10, power: float = 3.0, block: int = 2048) -> sp.csr_matrix:
    """The symmetric affinity ``W[N, N]`` linking each of ``features[N, F]`` to its ``k`` nearest by cosine."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be [N, F], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features hold NaN or infinite values")
    n = len(x)
    k = min(k, n - 1)
    if k < 1:
        return sp.csr_matrix((n, n))
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    rows, cols, vals = [], [], []
    for a in range(0, n, block):  # blocks keep memory at block x N however many clips there are
        s = x[a:a + block] @ x.T
        s[np.arange(len(s)), np.arange(a, a + len(s))] = -np.inf  # never a clip's own neighbour
        nn = np.argpartition(-s, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(np.arange(a, a + len(s)), k))
        cols.append(nn.ravel())
        vals.append(np.maximum(np.take_along_axis(s, nn, 1).ravel(), 0.0) ** power)
    w = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return (w + w.T).tocsr()


def spread(features: np.ndarray, labels: np.ndarray, n_classes: int, *, prior: np.ndarray | None = None,
           prior_weight: float = 0.0, k: int = 10, alpha: float = 0.99, power: float = 3.0,
           center: bool = True) -> np.ndarray:
    """``proba[N, K]`` for every clip of ``features[N, F]``, spread from ``labels[N]`` (-1: unlabelled).

    Each class's labelled column sums to 1, so a class with more labelled clips does not spread
    further for that reason.  ``prior[N, K]`` (e.g. the classifier's probabilities) enters the
    unlabelled clips' rows, scaled so that all of them together weigh ``prior_weight`` times
    the labelled clips.  Rows are
    normalised to sum to 1; a clip the graph does not reach gets its prior (or uniform).
    ``center`` subtracts the mean feature first: pooled features share a large common part
    that would make every pair look alike by cosine.
    """
    labels = np.asarray(labels, dtype=int)
    n = len(labels)
    if len(features) != n:
        raise ValueError(f"{len(features)} feature rows for {n} labels")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if ((labels < -1) | (labels >= n_classes)).any():
        raise ValueError(f"labels must be -1 (unlabelled) or in [0, {n_classes})")
    y = np.zeros((n, n_classes))
    known = labels >= 0
    y[np.flatnonzero(known), labels[known]] = 1.0
    y /= np.maximum(y.sum(0, keepdims=True), 1.0)
    if prior is not None and prior_weight > 0:
        p = np.asarray(prior, dtype=np.float64)
        if p.shape != (n, n_classes):
            raise ValueError(f"prior must be [{n}, {n_classes}], got {p.shape}")
        # Scaled so that, on average, each class column gets prior_weight from the prior and 1 from its seeds.
        y[~known] = prior_weight * p[~known] * n_classes / max(int((~known).sum()), 1)
    x = np.asarray(features, dtype=np.float64)
    w = knn_graph(x - x.mean(0, keepdims=True) if center and len(x) else x, k=k, power=power)
    d = np.asarray(w.sum(1)).ravel()
    inv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-300)), 0.0)
    a = sp.identity(n, format="csr") - alpha * (sp.diags(inv) @ w @ sp.diags(inv))
    f = np.stack([cg(a, y[:, c], maxiter=50)[0] for c in range(n_classes)], 1)
    f = np.maximum(f, 0.0)
    total = f.sum(1, keepdims=True)
    fallback = (np.asarray(prior, dtype=np.float64) if prior is not None
                else np.full((n, n_classes), 1.0 / n_classes))
    return np.where(total > 1e-12, f / np.maximum(total, 1e-12), fallback)
