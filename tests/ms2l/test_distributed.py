"""Distributed training (torchrun + Gloo on CPU), resume, and the NTU cache."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ms2l.config import ModelConfig
from ms2l.data import load_dataset
from ms2l.data.ntu import official_missing, prepare_cache

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ms2l"]
MS2L = [sys.executable, "-m", "ms2l"]
# Same global batches, the same augmentation and jigsaw draws per clip, global means for every
# loss: one and two processes should agree to float rounding.  Stated tolerance: 1e-3 relative.
TOLERANCE = 1e-3


def _run(cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _history(run_dir: Path):
    s = json.loads((run_dir / "summary.json").read_text())
    return s, [{k: h[k] for k in ("loss", "motion", "jigsaw", "contrastive") if k in h} for h in s["history"]]


def _assert_close(a, b):
    for ha, hb in zip(a, b, strict=True):
        for k in ha:
            assert ha[k] == pytest.approx(hb[k], rel=TOLERANCE), (k, ha[k], hb[k])


@pytest.fixture(scope="module")
def ntu_cache(ntu_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ntu_cache")
    prepare_cache(ntu_dir, out, "ntu60", progress=False)
    return out


def test_ntu_prepare_shapes_and_resume(ntu_dir, ntu_cache):
    manifest = json.loads((ntu_cache / "manifest.json").read_text())
    assert manifest["samples"] == 5 and manifest["dataset"] == "ntu60"
    index = np.load(ntu_cache / "index.npz")
    frames = {n: int(Path(ntu_dir / f"{n}.skeleton").read_text().split()[0]) for n in index["names"]}
    assert np.diff(index["offsets"]).tolist() == [frames[n] for n in index["names"]]
    joints = np.load(ntu_cache / "joints.npy", mmap_mode="r")
    conf = np.load(ntu_cache / "confidence.npy", mmap_mode="r")
    assert joints.shape == (sum(frames.values()), 2, 25, 3) and conf.shape == (joints.shape[0], 2, 25)
    handshake = list(index["names"]).index("S001C003P008R002A058")
    assert index["bodies"][handshake] == 2 and index["action"][handshake] == 58
    seg = slice(index["offsets"][handshake], index["offsets"][handshake + 1])
    assert (conf[seg][:, 1] > 0).any()  # the second person is really there
    # An interrupted run resumes from its shards: the assembled files come back identical.
    before = np.array(joints)
    for name in ("joints.npy", "confidence.npy", "index.npz", "manifest.json"):
        (ntu_cache / name).unlink()
    prepare_cache(ntu_dir, ntu_cache, "ntu60", progress=False)
    assert np.array_equal(np.load(ntu_cache / "joints.npy"), before)
    assert len(official_missing()) == 302 and "S001C002P005R002A008" in official_missing()


def test_ntu_splits(ntu_cache):
    cfg = ModelConfig(persons=2)
    train = load_dataset("ntu60", ntu_cache, cfg, "train", protocol="xsub")
    test = load_dataset("ntu60", ntu_cache, cfg, "test", protocol="xsub")
    # Performers 1, 8 and 15 are training subjects in x-sub; 3 is a test subject.
    assert sorted(train.meta["subject"].tolist()) == [1, 8, 15]
    assert sorted(test.meta["subject"].tolist()) == [3, 3]
    view_train = load_dataset("ntu60", ntu_cache, cfg, "train", protocol="xview")
    assert set(view_train.meta["camera"].tolist()) <= {2, 3}
    assert train.clips[0].shape[1:] == (2, 25, 3)
    with pytest.raises(ValueError, match="xsub, xview"):
        load_dataset("ntu60", ntu_cache, cfg, "train", protocol="xset")


@pytest.mark.parametrize("dataset", ["nw-ucla", "ntu60"])
def test_two_gloo_processes_match_one(dataset, nwucla_small, ntu_cache, tmp_path):
    data = nwucla_small if dataset == "nw-ucla" else ntu_cache
    # NTU: x-view trains on cameras 2 and 3, two of the shared samples: one global batch of 2.
    extra = ["--batch-size", "16"] if dataset == "nw-ucla" else ["--batch-size", "2", "--protocol", "xview"]
    args = ["pretrain", "--dataset", dataset, "--data", str(data), "--epochs", "2", "--device", "cpu",
            "--window", "32", *extra]
    _run(MS2L + args + ["--out", str(tmp_path / "one")])
    _run(TORCHRUN + args + ["--out", str(tmp_path / "two")])
    s1, h1 = _history(tmp_path / "one")
    s2, h2 = _history(tmp_path / "two")
    assert s1["processes"] == 1 and s2["processes"] == 2
    _assert_close(h1, h2)


def test_resume_after_kill_continues_from_the_saved_epoch(nwucla_small, tmp_path):
    args = ["pretrain", "--data", str(nwucla_small), "--epochs", "3", "--device", "cpu", "--batch-size", "16",
            "--window", "32", "--tasks", "motion,jigsaw"]
    _run(MS2L + args + ["--out", str(tmp_path / "whole")])
    _, whole = _history(tmp_path / "whole")

    out = tmp_path / "killed"
    proc = subprocess.Popen(MS2L + args + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    ckpt = out / "checkpoint.pt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and torch.load(ckpt, weights_only=True)["epoch"] >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= saved < 3, "the run should be killed part-way"
    assert not (out / "summary.json").exists()

    _run(MS2L + args + ["--out", str(out), "--resume"])
    summary, resumed = _history(out)
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    # Same data order, augmentation and jigsaw draws: the resumed run ends where the whole one did.
    _assert_close(resumed, whole)
