"""The three self-supervised tasks' views and losses."""
import math

import pytest
import torch
import torch.nn.functional as F

from ms2l.tasks import PERMUTATIONS, contrastive_loss, jigsaw, mask_tail, motion_loss, tail_mask, unjigsaw


def _batch(lengths, T=None, D=4):
    lengths = torch.tensor(lengths)
    T = T or int(lengths.max())
    x = torch.arange(len(lengths) * T * D, dtype=torch.float32).reshape(len(lengths), T, D) + 1
    return x, lengths


def test_permutations_are_the_six_orders_of_three():
    assert PERMUTATIONS.shape == (6, 3)
    assert len({tuple(p) for p in PERMUTATIONS.tolist()}) == 6


@pytest.mark.parametrize("lengths", [[9, 7, 12, 3], [1, 2, 30, 31]])
def test_unjigsaw_recovers_the_original(lengths):
    x, lengths = _batch(lengths)
    for pid in range(6):
        perm = torch.full((len(lengths),), pid)
        shuffled = jigsaw(x, lengths, perm)
        assert torch.equal(unjigsaw(shuffled, lengths, perm), x)


def test_jigsaw_moves_whole_segments_and_leaves_padding():
    x, lengths = _batch([9], T=11, D=1)
    # Segments of 9 frames: [0:3], [3:6], [6:9]; permutation (2, 0, 1) puts the last first.
    pid = PERMUTATIONS.tolist().index([2, 0, 1])
    out = jigsaw(x, lengths, torch.tensor([pid]))[0, :, 0]
    frames = x[0, :, 0]
    expected = torch.cat([frames[6:9], frames[0:3], frames[3:6], frames[9:]])
    assert torch.equal(out, expected)
    identity = jigsaw(x, lengths, torch.tensor([0]))
    assert torch.equal(identity, x)


@pytest.mark.parametrize("length,masked", [(10, 3), (20, 6), (31, 9), (1, 0), (64, 19)])
def test_mask_touches_exactly_the_last_30_percent_of_valid_frames(length, masked):
    T = 70
    x, lengths = _batch([length], T=T)
    xm, m = mask_tail(x, lengths, 0.3)
    assert int(m.sum()) == masked == round(0.3 * length)
    changed = (xm != x).any(-1)[0]
    assert changed.tolist() == m[0].tolist()
    assert changed[length - masked:length].all() and not changed[: length - masked].any()
    assert not changed[length:].any()  # padding untouched


def test_tail_mask_is_per_sample():
    m = tail_mask(torch.tensor([10, 20]), 20)
    assert m[0].nonzero().flatten().tolist() == [7, 8, 9]
    assert m[1].nonzero().flatten().tolist() == list(range(14, 20))


def test_motion_loss_ignores_padding():
    target = torch.zeros(2, 4, 3)
    pred = torch.zeros(2, 4, 3)
    pred[0, 3] = 100.0  # padding of sample 0 (length 3): must not count
    pred[1, 0] = 2.0    # one valid frame of sample 1 off by 2 in 3 coordinates
    loss = motion_loss(pred, target, torch.tensor([3, 4]))
    assert loss.item() == pytest.approx(3 * 4.0 / (7 * 3))


def test_contrastive_loss_matches_a_hand_computed_example():
    # Two views of two clips in 2-D: view 0 = e1, e2; view 1 = e1, (e1+e2)/sqrt2.
    s = 1 / math.sqrt(2)
    z = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [s, s]]])
    tau = 0.5
    # Pair (0 -> 1): similarities row0 = [1, s], row1 = [0, s]; targets 0 and 1.
    l01 = (-(1 / tau) + math.log(math.exp(1 / tau) + math.exp(s / tau))
           - (s / tau) + math.log(math.exp(0) + math.exp(s / tau))) / 2
    # Pair (1 -> 0): row0 = [1, 0], row1 = [s, s].
    l10 = (-(1 / tau) + math.log(math.exp(1 / tau) + 1)
           - (s / tau) + math.log(2 * math.exp(s / tau))) / 2
    expected = (l01 + l10) / 2
    assert contrastive_loss(z, tau).item() == pytest.approx(expected, rel=1e-5)


def test_contrastive_loss_is_low_for_matching_views_and_high_for_swapped():
    z = F.normalize(torch.randn(1, 8, 16), dim=-1)
    aligned = contrastive_loss(torch.cat([z, z]), 0.1)
    swapped = contrastive_loss(torch.cat([z, z.flip(1)]), 0.1)
    assert aligned < 0.1 < swapped


# --- pair views: a second, independent augmentation as a contrastive positive -------------

def _unlabelled(n: int = 6):
    import numpy as np

    from ms2l.data.clipset import ClipSet

    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(int(rng.integers(12, 30)), 1, 25, 3)).astype(np.float32) for _ in range(n)]
    return ClipSet(clips, np.full(n, -1), ())


def test_pair_dataset_gives_two_different_augmentations_of_each_clip_reproducibly():
    import numpy as np

    from ms2l.augment import Augment
    from ms2l.data.clipset import ClipDataset, collate_pairs

    ds = ClipDataset(_unlabelled(), 64, Augment(), seed=3, pairs=True)
    a, b, y = ds[2]
    assert y == -1 and a.shape[1:] == b.shape[1:] == (1, 25, 3)
    assert a.shape != b.shape or not np.allclose(a, b)       # independent draws
    a2, b2, _ = ds[2]
    assert np.array_equal(a, a2) and np.array_equal(b, b2)   # seeded by (seed, epoch, clip)
    x, lengths, labels = collate_pairs([ds[0], ds[1], ds[2]])
    assert x.shape[0] == 6 and labels.shape == (3,)
    assert lengths[2] == len(a) and lengths[5] == len(b)     # rows [:B] first views, [B:] second
    assert torch.allclose(x[5, : len(b)], torch.from_numpy(b))


def test_pair_views_need_augmentation():
    from ms2l.data.clipset import ClipDataset
    from ms2l.errors import ConfigError

    with pytest.raises(ConfigError, match="augmentation"):
        ClipDataset(_unlabelled(), 64, None, pairs=True)


def test_pretraining_with_pair_views_adds_the_second_view_to_the_contrastive_task(monkeypatch):
    from ms2l.config import ModelConfig, TaskConfig, default_recipe
    from ms2l.model import MS2L
    from ms2l.train import pretrain

    seen = []
    real = MS2L.ssl_losses

    def spy(self, x, lengths, tasks, original_features=None, perm=None, second=None):
        seen.append((x.shape[0], None if second is None else second[0].shape[0]))
        return real(self, x, lengths, tasks, original_features, perm, second)

    monkeypatch.setattr(MS2L, "ssl_losses", spy)
    for pair in (False, True):
        seen.clear()
        model = MS2L(ModelConfig(hidden=16, window=32))
        recipe = default_recipe("pretrain", epochs=1, batch_size=3, tasks=TaskConfig(pair_views=pair))
        history = pretrain(model, _unlabelled(), recipe, torch.device("cpu"), progress_bar=False)
        assert history[0]["samples_per_s"] > 0 and torch.isfinite(torch.tensor(history[0]["contrastive"]))
        if pair:
            assert seen == [(3, 3), (3, 3)]   # 6 clips, batches of 3 first views + their 3 second views
        else:
            assert seen == [(3, None), (3, None)]
