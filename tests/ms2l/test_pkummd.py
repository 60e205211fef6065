"""PKU-MMD cache: untrimmed streams cut into labelled clips (files written from real NTU skeletons)."""
import json

import numpy as np
import pytest

from ms2l.config import ModelConfig
from ms2l.data import load_dataset
from ms2l.data.pkummd import prepare_pkummd, read_labels, read_split
from pose_adapters.readers import SkeletonFileError
from pose_adapters.readers.ntu import read_ntu_skeleton
from pose_adapters.readers.pkummd import write_pkummd


@pytest.fixture()
def pku_root(ntu_dir, tmp_path):
    """Two 'videos' (real NTU skeletons in PKU-MMD's text format), labels and a split file."""
    (tmp_path / "skeleton").mkdir()
    (tmp_path / "label").mkdir()
    a = read_ntu_skeleton(ntu_dir / "S001C003P008R002A058.skeleton")   # two people, 70 frames
    b = read_ntu_skeleton(ntu_dir / "S004C002P003R001A017.skeleton")   # one person, 124 frames
    write_pkummd(a.joints, tmp_path / "skeleton" / "0002-L.txt", a.confidence)
    write_pkummd(b.joints, tmp_path / "skeleton" / "0291-M.txt", b.confidence)
    (tmp_path / "label" / "0002-L.txt").write_text("11,1,30,1\n12,31,70,1\n")
    (tmp_path / "label" / "0291-M.txt").write_text("7,5,64,2\n7,65,200,1\n")  # the last runs past the end
    (tmp_path / "split.txt").write_text("Training videos:\n0002-L,\nValidation videos:\n0291-M\n")
    return tmp_path


def test_prepare_cuts_labelled_clips_and_keeps_the_split(pku_root, tmp_path):
    out = tmp_path / "cache"
    manifest = prepare_pkummd(pku_root, out, 1, pku_root / "split.txt", progress=False)
    assert manifest["dataset"] == "pkummd1" and manifest["samples"] == 4
    index = np.load(out / "index.npz")
    assert np.diff(index["offsets"]).tolist() == [30, 40, 60, 60]  # 124 frames: the last clip is cut at the end
    assert index["action"].tolist() == [11, 12, 7, 7]
    assert index["split"].tolist() == [1, 1, 0, 0]
    assert index["bodies"].tolist()[:2] == [2, 2]
    cfg = ModelConfig(persons=2)
    train = load_dataset("pkummd1", out, cfg, "train")
    test = load_dataset("pkummd1", out, cfg, "test")
    assert len(train) == 2 and len(test) == 2 and train.labels.tolist() == [10, 11]
    assert json.loads((out / "manifest.json").read_text())["fps"] == 30.0


def test_malformed_label_and_split_files(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("11,1,30,1\nwave,1,2,3\n")
    with pytest.raises(SkeletonFileError, match="line 2"):
        read_labels(bad)
    bad.write_text("99,1,30,1\n")
    with pytest.raises(SkeletonFileError, match="bad action interval"):
        read_labels(bad)
    split = tmp_path / "split.txt"
    split.write_text("0002-L, 0003-M\n")
    with pytest.raises(SkeletonFileError, match="before any"):
        read_split(split)
    split.write_text("Training videos: A01N02-L, 0002-M\nValidation videos: 0003-R\n")
    assert read_split(split) == ({"A01N02-L", "0002-M"}, {"0003-R"})
