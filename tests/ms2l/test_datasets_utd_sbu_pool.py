"""UTD-MHAD and SBU as ms2l datasets, and the unlabelled pretraining pool, on the real files in ../shared."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ms2l.checkpoint import read_metadata
from ms2l.cli import main
from ms2l.config import ModelConfig
from ms2l.data import dataset_config, load_dataset
from ms2l.data.pool import PoolSource, discover, load_pool, parse_sources, windows
from ms2l.data.sbu import SBU_FOLDS, fold_mask
from ms2l.data.utd import TEST_SUBJECTS, TRAIN_SUBJECTS
from ms2l.errors import DatasetError
from pose_adapters.readers import SBU_ACTIONS, UTD_ACTIONS, read_bvh, read_cmu_bvh, read_utd

CFG = ModelConfig()  # prepare() depends on fps, window, persons and layout only, not on the network's size
SBU_TAKES_PER_CLASS = [42, 43, 40, 41, 18, 21, 39, 38]  # docs/datasets.md, counted on all 282 takes


def ms2l(*args: object) -> tuple[int, str, str]:
    """``python -m ms2l ARGS`` in this process: (exit code, stdout, stderr)."""
    from fakes import run_in_process

    return run_in_process(main, *args)


def links(dst: Path, files: list[Path], root: Path | None = None) -> Path:
    """A folder of symlinks to ``files`` (kept at their path below ``root`` when given)."""
    for f in files:
        target = dst / (f.relative_to(root) if root else f.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(f.resolve())
    return dst


# ----------------------------------------------------------------------------------------- UTD-MHAD

def test_utd_cross_subject_split(utd_dir):
    train = load_dataset("utd-mhad", utd_dir, CFG, "train")
    test = load_dataset("utd-mhad", utd_dir, CFG, "test")
    assert set(train.meta["subject"]) == TRAIN_SUBJECTS == {1, 3, 5, 7}
    assert set(test.meta["subject"]) == TEST_SUBJECTS == {2, 4, 6, 8}
    assert not set(train.names) & set(test.names)
    assert (len(train), len(test)) == (431, 430)  # 27 x 4 subjects x 4 trials, less a8_s1_t4 / a23_s6_t4, a27_s8_t4
    assert train.label_names == test.label_names == UTD_ACTIONS and len(UTD_ACTIONS) == 27
    per_train, per_test = Counter(train.labels.tolist()), Counter(test.labels.tolist())
    assert per_train == {a: 15 if a == 7 else 16 for a in range(27)}
    assert per_test == {a: 15 if a in (22, 26) else 16 for a in range(27)}
    assert all(x.shape[1:] == (1, 25, 3) for x in train.clips)
    # 30 fps -> the model's 15 fps
    raw = read_utd(utd_dir / "a3_s1_t1_skeleton.mat")
    i = train.names.index("a3_s1_t1")
    assert len(train.clips[i]) == round((len(raw.joints) - 1) * 15 / 30) + 1
    assert train.label_names[train.labels[i]] == "right-hand wave"


def test_merged_datasets_keep_who_is_who(utd_dir, nwucla_small):
    both = load_dataset("nw-ucla+utd-mhad", f"{nwucla_small},{utd_dir}", CFG, "train")
    subjects = set(both.meta["subject"].tolist())
    # Subject numbers are per dataset: UTD-MHAD's subject 1 is not NW-UCLA's.
    assert {"utd-mhad:1", "utd-mhad:3", "utd-mhad:5", "utd-mhad:7"} <= subjects and "nw-ucla:1" in subjects
    assert all(s.split(":")[0] == d for s, d in zip(both.meta["subject"], both.meta["dataset"]))


def test_utd_refuses_other_protocols_and_splits(utd_dir):
    with pytest.raises(DatasetError, match="one protocol"):
        load_dataset("utd-mhad", utd_dir, CFG, "train", protocol="fold1")
    with pytest.raises(DatasetError, match="train, test, all"):
        load_dataset("utd-mhad", utd_dir, CFG, "val")


# ----------------------------------------------------------------------------------------------- SBU

@pytest.fixture(scope="module")
def sbu_all(sbu_dir):
    return load_dataset("sbu", sbu_dir, dataset_config("sbu", CFG), "all")


def test_sbu_five_folds_over_actor_pairs(sbu_all, sbu_dir):
    assert dataset_config("sbu", CFG).persons == 2
    assert all(x.shape[1:] == (2, 25, 3) for x in sbu_all.clips)
    assert len(sbu_all) == 282 and sbu_all.label_names == SBU_ACTIONS
    assert [int((sbu_all.labels == c).sum()) for c in range(8)] == SBU_TAKES_PER_CLASS
    pairs = sorted(p.name for p in sbu_dir.iterdir() if p.is_dir())
    assert sorted(p for fold in SBU_FOLDS for p in fold) == pairs and len(pairs) == 21  # a partition
    for k in range(1, 6):
        train = sbu_all.where(fold_mask(sbu_all.meta["fold"], f"fold{k}", "train"))
        test = sbu_all.where(fold_mask(sbu_all.meta["fold"], f"fold{k}", "test"))
        assert set(test.meta["pair"]) == set(SBU_FOLDS[k - 1])
        assert not set(train.meta["pair"]) & set(test.meta["pair"])
        assert len(train) + len(test) == 282
    # The loader reads a fold's split the same way.
    test3 = load_dataset("sbu", sbu_dir, dataset_config("sbu", CFG), "test", protocol="fold3")
    assert test3.names == [n for n, f in zip(sbu_all.names, sbu_all.meta["fold"]) if f == 3]
    default = load_dataset("sbu", sbu_dir, dataset_config("sbu", CFG), "test")
    assert set(default.meta["pair"]) == set(SBU_FOLDS[0])  # default protocol fold1


def test_sbu_refuses_unknown_folds(sbu_dir):
    with pytest.raises(DatasetError, match="fold1, fold2, fold3, fold4, fold5"):
        load_dataset("sbu", sbu_dir, dataset_config("sbu", CFG), "train", protocol="fold6")


# ---------------------------------------------------------------------------------------------- pool

def test_pool_never_holds_a_test_split(nwucla_small, utd_dir, sbu_dir, ntu_dir):
    sources = parse_sources("nw-ucla,utd-mhad,sbu:fold2,ntu-samples", f"{nwucla_small},{utd_dir},{sbu_dir},{ntu_dir}")
    pool, comp = load_pool(sources, CFG)
    src = pool.meta["source"]
    assert (pool.labels == -1).all() and pool.label_names == ()
    assert all(x.shape[1:] == (1, 25, 3) for x in pool.clips)
    nw = [n for n, s in zip(pool.names, src) if s == "nw-ucla"]
    assert len(nw) == 40 and not [n for n in nw if n.endswith("_v03")]  # nwucla_small: 20 clips per view
    utd = [n for n, s in zip(pool.names, src) if s == "utd-mhad"]
    assert len(utd) == 431 and {int(n.split("_s")[1].split("_")[0]) for n in utd} == TRAIN_SUBJECTS
    sbu = [n for n, s in zip(pool.names, src) if s == "sbu"]
    assert len(sbu) == 2 * 230  # fold 2's training takes, each person a clip of its own
    assert not {n.split(":")[1][:6] for n in sbu} & set(SBU_FOLDS[1])
    ntu = sorted(n for n, s in zip(pool.names, src) if s == "ntu-samples")
    assert len(ntu) == 6 and [n for n in ntu if "A058" in n] == ["ntu-samples:S001C003P008R002A058#p1",
                                                                "ntu-samples:S001C003P008R002A058#p2"]
    assert [(r["dataset"], r["clips"]) for r in comp] == [("nw-ucla", 40), ("utd-mhad", 431), ("sbu:fold2", 460),
                                                         ("ntu-samples", 6)]
    assert "view 3 left out" in comp[0]["split"] and "s02s03" in comp[2]["split"]


def test_cmu_takes_are_cut_into_windows_at_15_fps(cmu_dir, tmp_path):
    subjects = cmu_dir / "subjects"
    links(tmp_path, [subjects / "001" / "001_01.bvh", subjects / "007" / "007_03.bvh"])
    pool, [rec] = load_pool([PoolSource("cmu", tmp_path)], CFG)
    starts = [int(s) for n, s in zip(pool.names, pool.meta["start"]) if "001_01" in n]
    # 1376 frames at 60 fps: windows of 253 source frames (64 at 15 fps), 128 apart, the last one at the end
    assert starts == [0, 128, 256, 384, 512, 640, 768, 896, 1024, 1123]
    assert [len(x) for n, x in zip(pool.names, pool.clips) if "001_01" in n] == [64] * 10
    # 007_03 opens with a prepended T-pose, dropped; shorter than a window -> one clip, resampled 60 -> 15 fps
    take = read_cmu_bvh(subjects / "007" / "007_03.bvh")
    assert take.num_frames == read_bvh(subjects / "007" / "007_03.bvh").num_frames - 1 == 207
    [short] = [x for n, x in zip(pool.names, pool.clips) if "007_03" in n]
    assert len(short) == 53  # round(206 * 15 / 59.9988) + 1
    assert rec["files"] == 2 and rec["clips"] == 11 and "50% overlap" in rec["windows"]
    assert windows(100, 15.0, CFG) == [(0, 64), (32, 96), (36, 100)]
    assert windows(40, 15.0, CFG) == [(0, 40)]


def test_bvh_samples_resampled_to_the_model_rate(bvh_dir):
    pool, [rec] = load_pool([PoolSource("bvh-samples", bvh_dir)], CFG)
    # bow: 138 frames at 30 fps -> windows of 127 source frames, the last one aligned to the end
    bow = [len(x) for n, x in zip(pool.names, pool.clips) if "bow" in n]
    assert bow == [64, 64] and rec["clips"] == len(pool) >= 3


def test_pool_sources_are_checked(tmp_path, shared_dir):
    with pytest.raises(DatasetError, match="2 source.*1 folder"):
        parse_sources("nw-ucla,cmu", "a")
    with pytest.raises(DatasetError, match="cannot be in a pretraining pool"):
        parse_sources("nw-ucla,ntu60", "a,b")
    with pytest.raises(DatasetError, match="listed twice"):
        parse_sources("cmu,cmu", "a,b")
    with pytest.raises(DatasetError, match="no dataset found"):
        discover(tmp_path)
    assert [s.name for s in discover(shared_dir / "datasets")] == [
        "nw-ucla", "utd-mhad", "sbu", "cmu", "ntu-samples", "bvh-samples"]
    assert [s.name for s in parse_sources("pool", str(shared_dir / "datasets"))][:2] == ["nw-ucla", "utd-mhad"]


def test_cli_pretrain_on_a_tiny_pool(nwucla_small, utd_dir, sbu_dir, cmu_dir, tmp_path):
    nw = links(tmp_path / "nw", sorted(nwucla_small.glob("a01_*")))  # 2 clips from each of the 3 views
    utd = links(tmp_path / "utd", [utd_dir / f"a{a}_s{s}_t1_skeleton.mat" for a in (1, 2) for s in (1, 2)])
    sbu = links(tmp_path / "sbu", sorted(sbu_dir.glob("s01s02/0[12]/*/skeleton_pos.txt"))
                + sorted(sbu_dir.glob("s01s03/0[12]/*/skeleton_pos.txt")), root=sbu_dir)
    cmu = links(tmp_path / "cmu", [cmu_dir / "subjects" / "002" / "002_03.bvh"])
    n_sbu = len(list((sbu / "s01s03").rglob("skeleton_pos.txt")))  # s01s02 is fold 1's test pair: left out
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ms2l", "pretrain", "--dataset", "nw-ucla,utd-mhad,sbu:fold1,cmu",
                        "--data", f"{nw},{utd},{sbu},{cmu}", "--out", str(out), "--epochs", "1", "--batch-size", "8",
                        "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data = read_metadata(out / "encoder.safetensors")["data"]
    assert data["dataset"] == "pool" and data["fps"] == 15 and data["persons"] == 1
    got = {s["dataset"]: s["clips"] for s in data["sources"]}
    assert got == {"nw-ucla": 4, "utd-mhad": 2, "sbu:fold1": 2 * n_sbu, "cmu": 1}
    assert data["clips"] == sum(got.values()) == json.loads((out / "summary.json").read_text())["clips"]
    card = (out / "encoder.md").read_text()
    assert "| utd-mhad | train (subjects 1, 3, 5, 7" in card and "| sbu:fold1 | train of fold1" in card


def test_cli_pool_options_are_explained_and_checked(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    assert "--dataset pool" in capsys.readouterr().out
    code, _, err = ms2l("pretrain", "--dataset", "nw-ucla,cmu", "--data", "a,b", "--protocol", "fold1",
                        "--out", tmp_path, "--device", "cpu")
    assert code == 2 and "NAME:PROTOCOL" in err


# ------------------------------------------------------------------------------- evaluate and train

def test_evaluate_nwucla_model_names_both_label_sets(utd_dir, sbu_dir):
    code, _, err = ms2l("evaluate", "--model", "nwucla", "--dataset", "utd-mhad", "--data", utd_dir,
                        "--split", "test", "--json")
    assert code == 2, err
    assert "do not match the labels of utd-mhad (27: 'right-arm swipe to the left'" in err
    assert "model labels (10: 'pick up with one hand'" in err and "ms2l train --dataset utd-mhad" in err
    code, _, err = ms2l("evaluate", "--dataset", "sbu", "--data", sbu_dir, "--json")
    assert code == 2 and "(8: 'approaching', 'departing'" in err


def test_train_and_evaluate_utd_and_sbu_end_to_end(utd_dir, sbu_dir, tmp_path):
    utd = links(tmp_path / "utd", [utd_dir / f"a{a}_s{s}_t1_skeleton.mat" for a in (3, 4) for s in (1, 2)])
    model = tmp_path / "utd.safetensors"
    code, _, err = ms2l("train", "--strategy", "scratch", "--dataset", "utd-mhad", "--data", utd, "--out", model,
                        "--epochs", "1", "--device", "cpu")
    assert code == 0, err
    code, out, err = ms2l("evaluate", "--model", model, "--dataset", "utd-mhad", "--data", utd, "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 2  # subject 2's two clips
    sbu = links(tmp_path / "sbu", sorted(sbu_dir.glob("s0[12]s0[12]/0[15]/*/skeleton_pos.txt")), root=sbu_dir)
    model = tmp_path / "sbu.safetensors"
    code, _, err = ms2l("train", "--strategy", "scratch", "--dataset", "sbu", "--data", sbu, "--protocol", "fold4",
                        "--out", model, "--epochs", "1", "--device", "cpu")
    assert code == 0, err
    meta = read_metadata(model)
    assert meta["config"]["persons"] == 2 and meta["config"]["labels"] == list(SBU_ACTIONS)
    n_test = len(list((sbu / "s02s01").rglob("skeleton_pos.txt")))  # s02s01 is fold 4's test pair
    assert meta["metrics"]["test"]["n"] == n_test


def test_a_split_by_take_keeps_a_takes_windows_and_people_together():
    import numpy as np

    from ms2l.data.clipset import ClipSet
    from ms2l.data.pool import split_by_take, take_of

    assert take_of("cmu:01_01@120") == "cmu:01_01" and take_of("sbu:s01s02/05/001#p2") == "sbu:s01s02/05/001"
    assert take_of("ntu:S001C001P001R001A001") == "ntu:S001C001P001R001A001"
    names = [f"cmu:{t:02d}_01@{s}" for t in range(40) for s in (0, 48, 96)] + [f"sbu:s{t}#p{p}" for t in range(20) for p in (1, 2)]
    clips = ClipSet([np.zeros((4, 1, 25, 3), np.float32)] * len(names), np.full(len(names), -1), (), names)
    first, rest = split_by_take(clips)
    assert sorted(np.concatenate([first, rest]).tolist()) == list(range(len(names)))
    a, b = {take_of(names[i]) for i in first}, {take_of(names[i]) for i in rest}
    assert not a & b and 0.3 < len(a) / (len(a) + len(b)) < 0.7
    assert np.array_equal(split_by_take(clips)[0], first)            # the same split every time
    assert not np.array_equal(split_by_take(clips, seed=1)[0], first)
