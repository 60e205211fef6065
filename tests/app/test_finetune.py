"""Fine-tuning jobs on real NW-UCLA clips in a library (tiny encoders, so they run in seconds)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.finetune import (
    FinetuneJob, FinetuneSpec, format_confusion, run_finetune, stratified_split, training_plan, unique_model_path,
)
from app.clips import Library, LibraryError
from ms2l.checkpoint import load_model, read_metadata, save_model
from ms2l.config import ModelConfig
from ms2l.model import MS2L
from ms2l.train import Cancelled

torch.set_num_threads(1)
ACTIONS = {"01": "pick up with one hand", "04": "walk around", "05": "sit down"}


@pytest.fixture
def library(tmp_path, nwucla_dir) -> Library:
    """Four real clips of each of three actions, plus two unlabelled ones."""
    lib = Library(tmp_path / "lib")
    for a in ACTIONS:
        for f in sorted(nwucla_dir.glob(f"a{a}_s0[12]_*_v0[12].json"))[:4]:
            lib.import_skeleton_file(f)
    for f in sorted(nwucla_dir.glob("a08_s01_*_v01.json"))[:2]:
        lib.import_skeleton_file(f, label=None)
        lib.relabel(lib.list()[-1].id, None)
    return lib


def test_stratified_split_and_plan():
    labels = np.repeat([0, 1, 2], [5, 2, 1])
    tr, va = stratified_split(labels, 0.2, seed=0)
    assert np.bincount(labels[va], minlength=3).tolist() == [1, 1, 0]  # a lone clip stays in training
    assert sorted([*tr, *va]) == list(range(8))
    assert stratified_split(labels, 0.0, 0)[1].size == 0
    assert [r.strategy for r in training_plan("linear", 50)] == ["linear"]
    few, many = training_plan("finetune", 10), training_plan("finetune", 100)
    assert [r.strategy for r in few] == ["linear", "finetune"]
    assert few[1].epochs > many[1].epochs  # fewer clips, more epochs: similar time
    assert training_plan("joint", 50, epochs=3)[1].epochs == 3
    # Pairs train with their order swapped half the time; one person never.
    assert all(r.views == ("swap",) for r in training_plan("finetune", 20, persons=2))
    assert all(r.views == () for r in training_plan("finetune", 20))


@pytest.mark.parametrize("strategy", ["finetune", "joint", "linear"])
def test_job_runs_to_completion_and_its_model_loads(library, tiny_encoder, tmp_path, strategy):
    events = []
    spec = FinetuneSpec(strategy=strategy, encoder=str(tiny_encoder), epochs=3, device="cpu", name="my model!",
                        cv="never")  # 4 clips per action: the hold-out path (cross-validation: test_finetune_fewshot.py)
    result = run_finetune(spec, library, registry=tmp_path / "models", progress=events.append)
    assert result.labels == tuple(sorted(ACTIONS.values()))
    assert result.model_path == tmp_path / "models" / "my-model.safetensors" and result.card_path.exists()
    assert (result.n_train, result.n_val) == (9, 3)
    assert result.n_unlabelled == (2 if strategy == "joint" else 0)
    phases = [e["phase"] for e in events]
    assert phases[0] == "prepare" and phases[-1] == "done" and "train" in phases
    train_events = [e for e in events if e["phase"] == "train"]
    assert train_events[-1]["epoch"] == train_events[-1]["epochs"] and train_events[-1]["fraction"] == 1.0
    assert all("val_acc" in e and "loss" in e for e in train_events)
    val = result.validation
    assert val["n"] == 3 and set(val["per_class"]) == set(ACTIONS.values())
    assert np.asarray(val["confusion"]).shape == (3, 3) and np.asarray(val["confusion"]).sum() == 3
    assert "top-1" in format_confusion(val)
    model, meta = load_model(result.model_path)
    assert model.config.labels == result.labels and model.config.hidden == 32 and not model.has_ssl_heads
    assert meta["metrics"]["validation"]["n"] == 3 and meta["data"]["train clips"] == 9
    assert len(meta["clip_ids"]["validation"]) == 3 and len(meta["clip_ids"]["train"]) == 9
    assert "your own library" in read_metadata(result.model_path)["description"]
    assert "## Labels" in result.card_path.read_text()
    # the new model reads library clips the way it was trained
    from ms2l.train import evaluate
    assert evaluate(model, library.clipset(model.config, result.labels), "cpu")["n"] == 12


def test_cancel_stops_and_saves_nothing(library, tiny_encoder, tmp_path):
    job = FinetuneJob(FinetuneSpec(encoder=str(tiny_encoder), epochs=50, device="cpu"), library.root,
                      registry=tmp_path / "models")
    seen = []

    def progress(ev):
        seen.append(ev)
        if ev["phase"] == "train" and ev["epoch"] == 2:
            job.cancel()
    with pytest.raises(Cancelled):
        job.run(progress)
    assert job.cancelled and max(e.get("epoch", 0) for e in seen) <= 3
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())


def test_refuses_what_cannot_be_trained(library, tiny_encoder, tmp_path):
    with pytest.raises(LibraryError, match="at least two actions"):
        run_finetune(FinetuneSpec(labels=("sit down",), encoder=str(tiny_encoder)), library, registry=tmp_path)
    with pytest.raises(LibraryError, match="no clips labelled 'dance'"):
        run_finetune(FinetuneSpec(labels=("sit down", "dance"), encoder=str(tiny_encoder)), library, registry=tmp_path)
    with pytest.raises(ValueError, match="unknown strategy"):
        FinetuneSpec(strategy="scratch")


def test_unique_model_path(tmp_path):
    p = unique_model_path(tmp_path, "a/../b c")
    assert p.parent == tmp_path and p.name == "a-..-b-c.safetensors"  # no folder separators survive
    p.write_bytes(b"")
    assert unique_model_path(tmp_path, "a/../b c").name.endswith("-2.safetensors")
    assert unique_model_path(tmp_path, None).name.startswith("mine-")
