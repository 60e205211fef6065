"""Open world: "none of these", "still", background labels, and live windows that match training clips."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from app.clips import Library
from app.finetune import FinetuneSpec, run_finetune
from app.live.pipeline import window_for
from app.live.recognizer import Recognizer
from app.live.runtime import Runtime
from app.live.smoother import Smoother, is_background
from app.live.sources import save_skeleton_clip
from app.settings import RuntimeSettings
from app.types import Prediction, Skeleton
from fakes import FakeSource, body, pose_factory
from ms2l.checkpoint import load_model, read_metadata, save_model
from ms2l.config import ModelConfig
from ms2l.data import ClipSet
from ms2l.errors import ModelFileError
from ms2l.model import MS2L
from ms2l.openset import auroc, calibrate, group_folds, heldout_scores, novelty_scores, standardised_features
from ms2l.train import default_recipe, train_classifier

torch.set_num_threads(1)
L = ("wave", "clap", "idle")


def _pred(p, novelty=None, t=0.0):
    return Prediction(t=t, probs=np.asarray(p, np.float32), labels=L, novelty=novelty)


def test_smoother_says_none_of_these_above_the_rejection_level():
    s = Smoother(L, threshold=0.5, smoothing=0.0, rejection=1.0)
    st, ev = s.update(0.0, _pred([0.9, 0.05, 0.05], novelty=0.4))
    assert st.state == "action" and st.action == "wave" and [e.kind for e in ev] == ["start"]
    st, ev = s.update(0.1, _pred([0.9, 0.05, 0.05], novelty=1.7))
    assert st.state == "none" and st.action is None and [e.kind for e in ev] == ["end"]
    assert st.novelty == pytest.approx(1.7)
    s.configure(rejection=2.0)  # the slider moved to "lenient"
    st, _ = s.update(0.2, _pred([0.9, 0.05, 0.05], novelty=1.7))
    assert st.state == "action"
    with pytest.raises(ValueError):
        s.configure(rejection=0)


def test_background_label_is_no_action_and_still_is_its_own_state():
    assert is_background("Idle") and is_background("no_action") and not is_background("wave")
    s = Smoother(L, threshold=0.5, smoothing=0.0)
    st, ev = s.update(0.0, _pred([0.1, 0.1, 0.8]))
    assert st.state == "background" and st.action == "idle" and ev == []
    st, ev = s.update(0.1, _pred([0.8, 0.1, 0.1]))
    assert st.state == "action" and st.action == "wave"
    st, ev = s.update(0.2, None, still=True)
    assert st.state == "still" and st.action is None and [e.kind for e in ev] == ["end"]
    st, _ = s.update(0.3, None, person=False)
    assert st.state == "no_person"


def _blob_clips(centres, n, seed, T=20):
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for c, centre in enumerate(centres):
        for _ in range(n):
            clips.append((np.full((T, 1, 25, 3), centre, np.float32) + rng.normal(0, 0.05, (T, 1, 25, 3))).astype(np.float32))
            labels.append(c)
    return ClipSet(clips, np.array(labels), ("a", "b"))


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    torch.manual_seed(0)
    model = MS2L(ModelConfig(hidden=16, layers=1, window=32, labels=("a", "b")), with_ssl_heads=False)
    train = _blob_clips([0.0, 1.0], 6, 0)
    train_classifier(model, train, default_recipe("prototype", feature_copies=1), torch.device("cpu"),
                     progress_bar=False)
    meta = calibrate(model, train, negatives=_blob_clips([-3.0, 4.0], 4, 1))
    path = save_model(model, tmp_path_factory.mktemp("m") / "m.safetensors", {"open_set": meta})
    return model, meta, path


def test_calibration_separates_known_from_other_motion(calibrated):
    model, meta, path = calibrated
    assert meta["threshold"] > 0 and meta["known_accepted"] >= 80 and meta["negatives"]["rejected"] == 100.0
    known, other = _blob_clips([0.0, 1.0], 5, 7), _blob_clips([-3.0, 4.0], 5, 8)
    protos = model.classifier.prototypes
    sk = novelty_scores(standardised_features(model, known), protos).numpy()
    so = novelty_scores(standardised_features(model, other), protos).numpy()
    assert auroc(sk, so) == 1.0
    # The model's own novelty (what the live recogniser and the ONNX graph use) is score / threshold.
    f = torch.stack([model.features(torch.from_numpy(c)[None], torch.tensor([len(c)]))[0] for c in other.clips])
    assert (model.classifier.novelty(f) > 1).all()


def test_held_out_scores_set_the_threshold(calibrated):
    model, meta, _ = calibrated
    train, held = _blob_clips([0.0, 1.0], 6, 0), _blob_clips([0.0, 1.0], 4, 3)
    protos = model.classifier.prototypes.clone()
    h = heldout_scores(model, train, held)
    assert torch.equal(model.classifier.prototypes, protos)          # scoring leaves the model alone
    assert np.allclose(h, novelty_scores(standardised_features(model, held), protos).numpy(), rtol=1e-5)
    scores = np.concatenate([h, [np.nan]])                            # a clip no fold scored is skipped
    o = calibrate(model, train, held_out=scores, quantile=0.75)
    assert o["calibration"] == "cross-validated" and o["known_clips"] == len(h)
    assert o["threshold"] == pytest.approx(float(np.quantile(h, 0.75)), rel=1e-5)
    assert o["known_accepted"] == pytest.approx(100.0 * float(np.mean(h <= np.quantile(h, 0.75))), abs=0.01)
    assert float(model.classifier.threshold) == pytest.approx(o["threshold"])
    loo = calibrate(model, train, held_out=np.zeros(0))               # nothing held out: leave-one-out as before
    assert loo["calibration"] == "leave-one-out" and loo["threshold"] == pytest.approx(meta["threshold"])
    assert loo["known_accepted"] == loo["loo_accepted"]


def test_a_model_file_carries_its_rejection_and_it_is_checked(calibrated, tmp_path):
    model, meta, path = calibrated
    loaded, m = load_model(path)
    assert float(loaded.classifier.threshold) == pytest.approx(meta["threshold"])
    rec = Recognizer(str(path), device="cpu", backend="onnx")
    assert rec.open_set["threshold"] == pytest.approx(meta["threshold"])
    far = np.random.default_rng(0).normal(0, 1, (20, 25, 3)).astype(np.float32)  # nothing like either blob
    from app.types import Window
    w = Window(joints=far, confidence=np.ones((20, 25), np.float32), t=np.arange(20) / 15.0, fps=15.0)
    p = rec.predict(w)
    assert p is not None and p.novelty is not None and p.novelty > 1
    torch_rec = Recognizer(str(path), device="cpu", backend="torch")
    assert torch_rec.predict(w).novelty == pytest.approx(p.novelty, rel=1e-3)
    # A threshold edited in the metadata, or a nonsense one, is refused.
    for bad in ({**meta, "threshold": meta["threshold"] * 2}, {**meta, "threshold": -1}, {**meta, "score": "magic"}):
        save_model(model, tmp_path / "bad.safetensors", {"open_set": bad})
        with pytest.raises(ModelFileError, match="open-set"):
            load_model(tmp_path / "bad.safetensors")
    save_model(model, tmp_path / "live.safetensors", {"live": {"window": "long", "min_frames": 3}})
    with pytest.raises(ModelFileError, match="live window"):
        load_model(tmp_path / "live.safetensors")


def test_group_folds_keep_each_person_on_one_side():
    subjects = np.array([7, 1, 3, 1, 5, 7, 3, 5, 1])
    folds = group_folds(subjects, 2)
    assert [sorted(set(subjects[f])) for f in folds] == [[1, 5], [3, 7]]
    assert sorted(np.concatenate(folds)) == list(range(len(subjects)))     # every clip held out exactly once
    assert len(group_folds(subjects, 9)) == 4                               # no more folds than people
    with pytest.raises(ValueError, match="at least 2 groups"):
        group_folds(np.ones(5), 3)
    with pytest.raises(ValueError, match="at least 2 folds"):
        group_folds(subjects, 1)


def test_auroc():
    assert auroc([0, 1], [2, 3]) == 1.0 and auroc([2, 3], [0, 1]) == 0.0 and auroc([1, 1], [1, 1]) == 0.5


def test_a_person_standing_still_is_still(tmp_path):
    from fakes import tiny_model

    path = tiny_model(tmp_path / "m.safetensors")
    frozen = {"t": 0.0}

    class Frozen:
        """The fake pose, but the person stops moving after 1 s."""
        def __init__(self, mirrored=False):
            self.inner = pose_factory()(mirrored)

        def process(self, frame):
            r = self.inner.process(frame)
            if frame.t >= 1.0 and r.points is not None:
                pts = body(1.0)
                return type(r)(**{**r.__dict__, "points": pts})
            return r

        def close(self):
            self.inner.close()

    rt = Runtime(str(path), settings=RuntimeSettings(every_k=1, realtime=False), pose_factory=Frozen)
    states = [(s.frame.t, s.state.state) for s in rt.run(FakeSource(n=90, fps=30.0))]
    assert all(st != "still" for t, st in states if t < 1.0)       # moving arms
    assert all(st == "still" for t, st in states if t >= 2.05)     # one second after they stopped
    rt2 = Runtime(str(path), settings=RuntimeSettings(every_k=1, realtime=False, still_s=0), pose_factory=Frozen)
    assert all(s.state.state != "still" for s in rt2.run(FakeSource(n=90, fps=30.0)))


ACTIONS = {"01": "pick up with one hand", "04": "walk around", "05": "sit down"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, nwucla_dir):
    """A library of real NW-UCLA clips (3 actions x 3 clips) and a model trained on it (prototypes)."""
    root = tmp_path_factory.mktemp("ow")
    lib = Library(root / "lib")
    for a in ACTIONS:
        for f in sorted(nwucla_dir.glob(f"a{a}_s0[1-4]_*_v01.json"))[:3]:
            lib.import_skeleton_file(f)
    torch.manual_seed(0)
    enc = save_model(MS2L(ModelConfig(hidden=32, layers=1, window=64)), root / "enc.safetensors", {"kind": "encoder"})
    r = run_finetune(FinetuneSpec(strategy="prototype", encoder=str(enc), device="cpu"), lib, out=root / "m")
    return lib, r


def test_library_models_record_their_live_window_and_rejection(trained):
    lib, r = trained
    meta = read_metadata(r.model_path)
    lengths = [len(x) for x in lib.clipset(load_model(r.model_path)[0].config, r.labels).clips]
    live = meta["live"]
    cap = load_model(r.model_path)[0].config.window  # never longer than the clips it was trained on (crops)
    assert min(lengths) >= live["min_frames"] and live["window"] == min(max(lengths), cap)   # spans every clip
    assert meta["open_set"]["threshold"] > 0 and meta["open_set"]["known_clips"] == len(lengths)
    rec = Recognizer(str(r.model_path), device="cpu")
    assert window_for(RuntimeSettings(), rec) == (live["window"], live["min_frames"])
    assert window_for(RuntimeSettings(window=20, min_fill=0.5), rec) == (20, 10)


def test_streaming_a_recorded_clip_gives_the_label_clip_evaluation_gives(trained, tmp_path):
    """Train what you serve: each clip, played once through the runtime, ends on the label that
    evaluating the whole clip gives (and a short clip gets a decision at all)."""
    from ms2l.evaluate import predict

    lib, r = trained
    model, meta = load_model(r.model_path)
    infos = lib.list()
    clips = lib.clipset(model.config, r.labels)
    want = predict(model, clips, torch.device("cpu")).argmax(1)
    agree = n = 0
    window = meta["live"]["window"]
    for k, info in enumerate(infos):
        if len(clips.clips[k]) > window:
            continue  # longer than the live window: the runtime sees its last stretch, evaluation all of it
        n += 1
        clip = lib.get(info.id)
        skels = [Skeleton(float(t), i, clip.joints[i], clip.confidence[i]) for i, t in enumerate(clip.timestamps)]
        path = save_skeleton_clip(tmp_path / f"c{k}.npz", skels, timestamps=list(clip.timestamps))
        from app.live.sources import SkeletonClipSource

        rt = Runtime(str(r.model_path), settings=RuntimeSettings(every_k=1, realtime=False, backend="torch",
                                                                 still_s=0))
        preds = [s.prediction for s in rt.run(SkeletonClipSource(path)) if s.prediction is not None]
        assert preds, f"clip {info.id} ({clip.frames} frames) got no decision"
        last = preds[-1]
        agree += int(np.argmax(last.probs) == want[k])
    assert n >= 5 and agree == n


def test_a_clip_shorter_than_the_live_window_played_once_gets_the_label_clip_evaluation_gives(trained, tmp_path):
    """Short inputs get a decision: a 0.7 s stretch never fills ``min_frames``, so the end of the
    source decides on it -- the same label as evaluating that stretch as a clip; under 0.5 s stays undecided."""
    from app.live.pipeline import FINAL_MIN_S
    from app.live.sources import SkeletonClipSource
    from ms2l.evaluate import predict
    from ms2l.preprocess import prepare

    lib, r = trained
    model, meta = load_model(r.model_path)
    fps = model.config.fps
    clip = lib.get(lib.list()[0].id)
    src_fps = 1.0 / float(np.median(np.diff(clip.timestamps)))
    cut = int(round(0.7 * src_fps)) + 1                       # 0.7 s of the recording
    assert round(0.7 * fps) + 1 < meta["live"]["min_frames"]  # too short for a regular decision
    j, c, ts = clip.joints[:cut], clip.confidence[:cut], clip.timestamps[:cut]
    x = prepare(j, c, model.config, source_fps=src_fps)
    want = int(predict(model, ClipSet([x], np.zeros(1, int), r.labels), torch.device("cpu")).argmax(1)[0])

    def stream(n: int, **kw):
        skels = [Skeleton(float(ts[i] - ts[0]), i, j[i], c[i]) for i in range(n)]
        path = save_skeleton_clip(tmp_path / f"short{n}.npz", skels, timestamps=[float(t - ts[0]) for t in ts[:n]])
        rt = Runtime(str(r.model_path), settings=RuntimeSettings(every_k=1, realtime=False, backend="torch", still_s=0))
        return list(rt.run(SkeletonClipSource(path), **kw)), rt

    snaps, rt = stream(cut)
    decided = [s for s in snaps if s.prediction is not None]
    assert len(snaps) == cut + 1 and len(decided) == 1 and decided[0] is snaps[-1]   # one extra, final snapshot
    assert int(np.argmax(decided[0].prediction.probs)) == want
    assert snaps[-1].state.state in ("action", "unknown", "none", "background")
    assert snaps[-1].stats.processed == cut                     # the final decision is not counted as a frame
    snaps, _ = stream(cut, max_frames=cut - 1)                  # cut short by the caller: not the source's end
    assert all(s.prediction is None for s in snaps)
    tiny = int(FINAL_MIN_S * src_fps * 0.6)                     # under half a second: no decision
    snaps, _ = stream(tiny)
    assert len(snaps) == tiny and all(s.prediction is None for s in snaps)
