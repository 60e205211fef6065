"""The ms2l command line on real NW-UCLA clips."""
import json
import subprocess
import sys

import pytest

from app.cli import build_parser, main


def run(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "ms2l", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("command", ["pretrain", "train", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0
    assert "--data" in capsys.readouterr().out


def test_evaluate_default_model_on_real_clips(nwucla_small):
    r = run("evaluate", "--model", "default", "--data", str(nwucla_small), "--split", "test", "--json")
    out = json.loads(r.stdout)
    assert out["n"] == 20
    assert 0 <= out["top1"] <= 100
    assert set(out["per_class"]) == {"pick up with one hand", "pick up with two hands", "drop trash", "walk around",
                                     "sit down", "stand up", "donning", "doffing", "throw", "carry"}
    # A model that scores 90 % on the full view 3 is far above chance on these 20 clips.
    assert out["top1"] >= 50


def test_pretrain_train_evaluate_pipeline(nwucla_small, tmp_path):
    run_dir = tmp_path / "run"
    run("pretrain", "--data", str(nwucla_small), "--out", str(run_dir), "--epochs", "1", "--device", "cpu",
        "--tasks", "motion,jigsaw")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["tasks"] == ["motion", "jigsaw"] and summary["clips"] == 40
    model = tmp_path / "clf.safetensors"
    run("train", "--strategy", "linear", "--data", str(nwucla_small), "--encoder", str(run_dir / "encoder.safetensors"),
        "--out", str(model), "--epochs", "3", "--label-fraction", "0.5", "--seed", "1")
    s = json.loads(model.with_suffix(".json").read_text())
    assert s["strategy"] == "linear" and s["clips"] == 20  # half of 4 clips per class
    assert "## Labels" in model.with_suffix(".md").read_text()
    out = json.loads(run("evaluate", "--model", str(model), "--data", str(nwucla_small), "--json").stdout)
    assert out["n"] == 20


def test_clear_errors(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "missing.safetensors"), "--data", str(tmp_path)]) == 2
    assert "no model file" in capsys.readouterr().err
    (tmp_path / "a01_s01_e00_v03.json").write_text("{not json")
    assert main(["evaluate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "a01_s01_e00_v03.json, line 1: invalid JSON" in err
    r = run("train", "--strategy", "linear", "--data", str(tmp_path), "--out", str(tmp_path / "m"), check=False)
    assert r.returncode != 0 and "needs --encoder" in r.stderr


def test_train_with_outlier_exposure_trains_on_half_the_other_takes_and_measures_the_rest(
        nwucla_small, sbu_dir, tiny_encoder, tmp_path):
    from ms2l.checkpoint import read_metadata

    model = tmp_path / "oe.safetensors"
    run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder), "--epochs", "1",
        "--negatives", "sbu", "--negatives-data", str(sbu_dir), "--outlier-weight", "0.5", "--out", str(model))
    meta = read_metadata(model)
    o = meta["open_set"]
    assert meta["recipe"]["outlier_weight"] == 0.5
    assert o["outliers"]["weight"] == 0.5 and o["outliers"]["sources"] == "sbu"
    # SBU: 282 takes of two people, one clip each; about half trained on, the rest measured.
    total = o["outliers"]["clips"] + o["negatives"]["clips"]
    assert total == 564 and 0.35 < o["outliers"]["clips"] / total < 0.65
    assert "outlier exposure: trained on" in model.with_suffix(".md").read_text()
    r = run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
            "--outlier-weight", "0.5", "--out", str(tmp_path / "x"), check=False)
    assert r.returncode != 0 and "needs other motion to train on: --negatives" in r.stderr
    r = run("train", "--strategy", "linear", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
            "--negatives", "sbu", "--negatives-data", str(sbu_dir), "--outlier-weight", "0.5", "--out", str(tmp_path / "y"),
            check=False)
    assert r.returncode != 0 and "keeps it frozen" in r.stderr


def test_train_with_self_training_learns_from_the_unlabelled_rest_and_says_so(nwucla_small, tiny_encoder, tmp_path):
    from ms2l.checkpoint import read_metadata

    model = tmp_path / "st.safetensors"
    r = run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
            "--epochs", "1", "--label-fraction", "0.25", "--self-train", "2", "--out", str(model))
    assert "self-training round 2" in r.stderr
    st = read_metadata(model)["data"]["self_training"]
    # 40 training clips, one per class labelled (10), 30 unlabelled; round 1 keeps at most 2 per predicted
    # class (ceil(0.5 * 30 / 10)), round 2 at most 3.
    assert st["rounds"] == 2 and st["unlabelled"] == 30
    assert [x["round"] for x in st["log"]] == [0, 1, 2]
    assert st["log"][0]["clips"] == 10 and 10 < st["log"][1]["clips"] <= 30 and st["log"][2]["clips"] <= 40
    assert st["log"][1]["pseudo"] <= st["log"][2]["pseudo"]
    assert all(0 <= x["pseudo_correct"] <= 100 for x in st["log"][1:])
    # The saved recipe is the last round's (it trained the saved weights); the labelled stage's is kept beside it.
    meta = read_metadata(model)
    assert st["labelled_recipe"]["label_fraction"] == 0.25 and meta["recipe"]["label_fraction"] > 0.25
    # One labelled clip per action: the default (auto) spreads labels over the feature graph.
    assert st["labeller"] == "spread" and {x["labeller"] for x in st["log"][1:]} == {"spread"}
    other = tmp_path / "model.safetensors"
    run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder), "--epochs", "1",
        "--label-fraction", "0.25", "--self-train", "1", "--pseudo-labels", "model", "--out", str(other))
    st = read_metadata(other)["data"]["self_training"]
    assert st["labeller"] == "model" and st["log"][1]["pseudo"] > 0
    bad = run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
              "--self-train", "2", "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "--label-fraction below 1" in bad.stderr


def test_train_sets_its_threshold_on_people_it_never_saw(utd_dir, nwucla_small, tiny_encoder, tmp_path):
    from ms2l.checkpoint import read_metadata

    model = tmp_path / "utd.safetensors"
    r = run("train", "--strategy", "finetune", "--dataset", "utd-mhad", "--data", str(utd_dir), "--encoder",
            str(tiny_encoder), "--epochs", "1", "--calibrate-by", "subject", "--calibration-folds", "2",
            "--out", str(model))
    assert "calibration model 1/2: trained without subjects 1, 5" in r.stderr
    assert "calibration model 2/2: trained without subjects 3, 7" in r.stderr
    meta = read_metadata(model)
    o = meta["open_set"]
    assert o["calibration"] == "cross-validated" and o["groups"]["by"] == "subject" and o["groups"]["folds"] == 2
    assert o["known_clips"] == meta["data"]["clips"]                  # every training clip held out once
    assert 94 <= o["known_accepted"] <= 96 and 0 <= o["loo_accepted"] <= 100
    assert meta["recipe"]["epochs"] == 1                               # the saved model's recipe, not a fold's
    assert "a person the model never saw" in model.with_suffix(".md").read_text()
    bad = run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
              "--calibrate-by", "subject", "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "at least 2 subjects" in bad.stderr


def test_train_a_soup_and_a_cosine_head_from_the_command_line(nwucla_small, tiny_encoder, tmp_path):
    from ms2l.checkpoint import load_model, read_metadata

    model = tmp_path / "soup.safetensors"
    run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder), "--epochs", "1",
        "--soup", "2", "--head", "cosine", "--seed", "3", "--out", str(model))
    meta = read_metadata(model)
    assert meta["recipe"]["soup"] == {"models": 2, "seeds": [3, 103]} and meta["recipe"]["seed"] == 3
    assert load_model(model)[0].config.head == "cosine"
    assert "cosine classifier head" in model.with_suffix(".md").read_text()
    r = run("train", "--strategy", "finetune", "--data", str(nwucla_small), "--encoder", str(tiny_encoder),
            "--soup", "0", "--out", str(tmp_path / "x"), check=False)
    assert r.returncode != 0 and "--soup N averages N models" in r.stderr


def test_pretrain_in_stages_starts_from_the_earlier_encoder_and_says_so(nwucla_small, tiny_encoder, tmp_path):
    from safetensors.torch import load_file

    from ms2l.checkpoint import read_metadata
    from ms2l.cli import _init_encoder
    from ms2l.config import ModelConfig
    from ms2l.errors import ConfigError

    first, second = tmp_path / "first", tmp_path / "second"
    common = ("--data", str(nwucla_small), "--epochs", "1", "--device", "cpu", "--tasks", "motion,jigsaw")
    run("pretrain", *common, "--out", str(first))
    enc = first / "encoder.safetensors"
    # The model handed to training is the file's, weights and task heads, not a fresh one.
    model, record = _init_encoder(enc, ModelConfig.from_dict(read_metadata(enc)["config"]))
    saved = load_file(str(enc))
    assert all(bool((v == saved[k]).all()) for k, v in model.state_dict().items())
    assert model.training and record["epochs"] == 1 and record["path"] == str(enc)

    run("pretrain", *common, "--out", str(second), "--init", str(enc), "--seed", "1")
    meta = read_metadata(second / "encoder.safetensors")
    assert meta["init"]["epochs"] == 1 and meta["init"]["path"] == str(enc)
    assert meta["recipe"]["epochs"] == 1
    card = (second / "encoder.md").read_text()
    assert "continued from" in card and "pretrained 1 epochs" in card
    clf = tmp_path / "clf.safetensors"
    run("train", "--strategy", "linear", "--data", str(nwucla_small), "--encoder", str(second / "encoder.safetensors"),
        "--out", str(clf), "--epochs", "1", "--label-fraction", "0.5")
    assert read_metadata(clf)["encoder"]["init"]["epochs"] == 1
    assert "Pretrained in stages" in clf.with_suffix(".md").read_text()

    # Wrong files fail before any data is read, and say why.
    r = run("pretrain", *common, "--out", str(tmp_path / "x"), "--init", str(enc), "--velocity", check=False)
    assert r.returncode != 0 and "velocity: False there, True here" in r.stderr
    r = run("pretrain", *common, "--out", str(tmp_path / "y"), "--init", str(clf), check=False)
    assert r.returncode != 0 and "no MS²L task heads" in r.stderr
    with pytest.raises(ConfigError, match="built differently"):
        _init_encoder(tiny_encoder, ModelConfig.from_dict(read_metadata(enc)["config"]))
