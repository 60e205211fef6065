"""Untrusted files: model files, training checkpoints and clips never run code hidden in them, and a
model that does not fit the live pipeline is refused with the reason.

Every malicious file here is real: unpickling it would create a marker file, and each test checks
that the marker never appears and that the file itself is left as it was.
"""
from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from app.live.recognizer import Recognizer
from app.live.runtime import Runtime, RuntimeSettings
from app.live.sources import SkeletonClipSource, SourceError, save_skeleton_clip
from app.types import Skeleton
from fakes import body, pose_factory, tiny_model
from ms2l.checkpoint import ModelFileError, load_model, read_metadata, save_model
from app.cli import main
from ms2l.config import ModelConfig
from ms2l.data import ClipSet
from ms2l.model import MS2L
from ms2l.train import CHECKPOINT, default_recipe, pretrain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MS2L_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


class _Evil:
    """Unpickling this opens (creates) ``marker``: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def marker(tmp_path) -> Path:
    m = tmp_path / "PWNED"
    yield m
    assert not m.exists(), "a crafted pickle ran code"


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    """A torch checkpoint whose unpickling runs code, shaped like a real training checkpoint."""
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 1, "history": [], "strategy": "pretrain",
                "optimizer": _Evil(marker), "scheduler": None}, path)
    return path


def _evil_clip(path: Path, marker: Path) -> Path:
    """A skeleton-clip ``.npz`` whose joints are a pickled object array that runs code."""
    np.savez(path, joints=np.array([_Evil(marker)], dtype=object), timestamps=np.zeros(1))
    return path


@pytest.fixture
def evil_pt(tmp_path, marker) -> Path:
    return _evil_checkpoint(tmp_path / "evil.pt", marker)


def test_the_crafted_payloads_are_live(tmp_path):
    """Positive control: unpickled on purpose, every payload these tests use does run code (creates its
    marker), so a marker that stays absent elsewhere means the loader refused it, not that it was inert."""
    ran = [tmp_path / f"RAN-{k}" for k in range(3)]
    pickle.loads(pickle.dumps(_Evil(ran[0])))
    torch.load(_evil_checkpoint(tmp_path / "evil.pt", ran[1]), weights_only=False)
    np.load(_evil_clip(tmp_path / "clip.npz", ran[2]), allow_pickle=True)["joints"]
    assert all(m.exists() for m in ran), [m.name for m in ran if not m.exists()]


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("untrusted") / "good.safetensors")


def _same_bytes(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before, f"{path} was changed by a refused load"


# ---------------------------------------------------------------- pickles, on every loading path

def test_model_loading_paths_refuse_a_pickle(tmp_path, marker, evil_pt, good_model, capsys):
    raw = tmp_path / "evil.safetensors"
    raw.write_bytes(pickle.dumps(_Evil(marker)))
    for p in (raw, evil_pt):
        before = p.read_bytes()
        for load in (load_model, read_metadata, lambda q: Recognizer(q, device="cpu", backend="torch")):
            with pytest.raises(ModelFileError, match="not a safetensors model file.*never loads pickled"):
                load(p)
        _same_bytes(p, before)
    # The CLI commands that take a model or an encoder: exit status 2 and one plain line.
    clip = save_skeleton_clip(tmp_path / "clip.npz", [Skeleton(i / 30, i, body(i / 30), np.ones(25, np.float32))
                                                       for i in range(5)])
    for argv in (["evaluate", "--model", str(raw), "--data", str(tmp_path), "--device", "cpu"],
                 ["train", "--strategy", "linear", "--encoder", str(evil_pt), "--data", str(tmp_path),
                  "--out", str(tmp_path / "m"), "--device", "cpu"],
                 ["infer", str(clip), "--model", str(evil_pt), "--out", str(tmp_path / "p.jsonl"), "--device", "cpu"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "never loads pickled checkpoints" in err and "Traceback" not in err
    # A running app asked to switch to it: reported, and the old model keeps serving.
    rt = Runtime(settings=RuntimeSettings(every_k=1, realtime=False),
                 recognizer=Recognizer(good_model, device="cpu", backend="torch"), pose_factory=pose_factory())
    rt.set_model(evil_pt, wait=True)
    errors = rt.poll_errors()
    assert len(errors) == 1 and isinstance(errors[0], ModelFileError)
    assert rt.recognizer.name == str(good_model)


def _tiny_clips(n: int = 6) -> ClipSet:
    rng = np.random.default_rng(0)
    return ClipSet([rng.normal(size=(20, 1, 25, 3)).astype(np.float32) for _ in range(n)], np.zeros(n, int), ("a",))


def test_resume_refuses_a_malicious_checkpoint(tmp_path, marker, evil_pt):
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / CHECKPOINT
    ckpt.write_bytes(evil_pt.read_bytes())
    before = ckpt.read_bytes()
    model = MS2L(ModelConfig(hidden=8, layers=1, window=16))
    recipe = default_recipe("pretrain", epochs=1, batch_size=4)
    with pytest.raises(ModelFileError, match=r"not a usable training checkpoint \(it holds Python objects.*could run "
                                             r"code\); delete it, or run without --resume"):
        pretrain(model, _tiny_clips(), recipe, torch.device("cpu"), progress_bar=False, checkpoint_dir=run, resume=True)
    _same_bytes(ckpt, before)


@pytest.mark.parametrize("content", ["truncated", "not_a_dict", "wrong_shapes"])
def test_resume_refuses_damaged_checkpoints_with_a_reason(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / CHECKPOINT
    model = MS2L(ModelConfig(hidden=8, layers=1, window=16))
    recipe = default_recipe("pretrain", epochs=1, batch_size=4)
    if content == "truncated":
        pretrain(model, _tiny_clips(), recipe, torch.device("cpu"), progress_bar=False, checkpoint_dir=run)
        ckpt.write_bytes(ckpt.read_bytes()[:300])
        words = "unreadable"
    elif content == "not_a_dict":
        torch.save([1, 2, 3], ckpt)
        words = "not a training checkpoint"
    else:
        other = MS2L(ModelConfig(hidden=12, layers=1, window=16))
        pretrain(other, _tiny_clips(), recipe, torch.device("cpu"), progress_bar=False, checkpoint_dir=run)
        words = "does not fit this run"
    with pytest.raises(ModelFileError, match=words):
        pretrain(model, _tiny_clips(), recipe, torch.device("cpu"), progress_bar=False, checkpoint_dir=run, resume=True)


def test_cli_resume_with_a_malicious_checkpoint_exits_cleanly(tmp_path, marker, evil_pt, nwucla_small, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT).write_bytes(evil_pt.read_bytes())
    code = main(["pretrain", "--data", str(nwucla_small), "--out", str(out), "--resume", "--epochs", "1",
                 "--batch-size", "8", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "could run code" in err and "Traceback" not in err
    assert not (out / "encoder.safetensors").exists()


def test_clip_files_with_pickled_arrays_are_refused(tmp_path, marker):
    evil = _evil_clip(tmp_path / "clip.npz", marker)
    with pytest.raises(SourceError, match="cannot read skeleton clip"):
        SkeletonClipSource(evil)
    from app.clips import Library, LibraryError

    lib = Library(tmp_path / "lib")
    with pytest.raises(ValueError, match="allow_pickle"):
        lib.import_skeleton_file(evil)
    ds = tmp_path / "ds"
    (ds / "clips").mkdir(parents=True)
    (ds / "clips" / "clip_000001.npz").write_bytes(evil.read_bytes())
    (ds / "index.csv").write_text("id,file,label\n1,clips/clip_000001.npz,wave\n")
    with pytest.raises(LibraryError, match="cannot read"):
        lib.import_folder(ds)
    assert len(lib) == 0 and lib.check() == []
    # An NTU training cache (`ms2l prepare`) whose index holds a pickle.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "manifest.json").write_text(json.dumps({"dataset": "ntu60", "fps": 30.0}))
    np.savez(cache / "index.npz", names=np.array([_Evil(marker)], dtype=object))
    from ms2l.data.ntu import load_ntu
    with pytest.raises(ValueError, match="allow_pickle"):
        load_ntu(cache, ModelConfig(), "train")


def test_no_unsafe_loader_in_the_code():
    """Static guard for new code: torch.load only with weights_only=True, no pickle/marshal/shelve
    loads, np.load never with allow_pickle=True (tests craft attacks, so they are not scanned)."""
    bad = []
    for folder in ("ms2l", "app", "pose_adapters", "benchmarks"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                if not isinstance(node, ast.Call):
                    continue
                name = ast.unparse(node.func)
                kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
                where = f"{f.relative_to(ROOT)}:{node.lineno}: {name}"
                if name.endswith("torch.load") and kw.get("weights_only") != "True":
                    bad.append(where)
                elif name.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "marshal", "shelve") and "load" in name:
                    bad.append(where)
                elif name.endswith("np.load") and kw.get("allow_pickle") not in (None, "False"):
                    bad.append(where)
                elif name in ("eval", "exec"):
                    bad.append(where)
    assert bad == []


# ---------------------------------------------------------------- models that do not fit

def _rewrite_meta(src: Path, dst: Path, change) -> Path:
    meta = read_metadata(src)
    change(meta)
    save_file(load_file(str(src)), str(dst), metadata={"ms2l": json.dumps(meta)})
    return dst


def test_model_for_another_joint_layout_is_refused(tmp_path):
    coco = save_model(MS2L(ModelConfig(hidden=8, layers=1, joints=17, layout="coco17", labels=("a", "b")),
                           with_ssl_heads=False), tmp_path / "coco.safetensors")
    assert load_model(coco)[0].config.joints == 17  # a valid file ...
    with pytest.raises(ModelFileError, match=r"expects coco17 skeletons \(17 joints x 3.*live pipeline gives ntu25"):
        Recognizer(coco, device="cpu", backend="torch")  # ... that cannot run on live skeletons
    flat = save_model(MS2L(ModelConfig(hidden=8, layers=1, coords=2, labels=("a", "b")), with_ssl_heads=False),
                      tmp_path / "2d.safetensors")
    with pytest.raises(ModelFileError, match=r"25 joints x 2 coordinates"):
        Recognizer(flat, device="cpu", backend="onnx")


def test_metadata_that_does_not_match_the_weights_is_refused(tmp_path, good_model):
    cases = {
        # input size: the metadata says 20 joints, the weights were trained on 25 x 3 = 75 inputs
        "input": (lambda m: m["config"].update(joints=20), r"weight shapes do not match"),
        # label count: five names for a three-way classifier
        "labels": (lambda m: m["config"].update(labels=["a", "b", "c", "d", "e"]), r"weight shapes do not match"),
        "no_labels": (lambda m: m["config"].update(labels=[]), r"weights do not match the config"),
        "duplicate_labels": (lambda m: m["config"].update(labels=["a", "a", "b"]), r"labels repeat: \['a'\]"),
        "blank_label": (lambda m: m["config"].update(labels=["a", " ", "b"]), r"non-empty strings"),
        "hidden": (lambda m: m["config"].update(hidden=64), r"weight shapes do not match"),
    }
    for name, (change, words) in cases.items():
        with pytest.raises(ModelFileError, match=words):
            load_model(_rewrite_meta(good_model, tmp_path / f"{name}.safetensors", change))


@pytest.mark.parametrize("field,value,words", [
    ("hidden", 10**9, r"hidden must be an integer from 1 to 4096"),  # refused before allocating ~10^19 weights
    ("layers", 0, r"layers must be an integer"),
    ("window", -5, r"window must be"),
    ("persons", 2.5, r"persons must be an integer"),
    ("fps", 0, r"fps must be a number in \(0, 1000\]"),
    ("fps", float("nan"), r"fps must be"),
    ("normalization", "sideways", r"normalization must be body, yaw or none"),
    ("encoder", "transformer", r"unknown encoder 'transformer'"),
    ("labels", "abc", r"labels must be a list of names"),  # else one label per letter, and 3 letters fit
    ("colour", "red", r"unknown model config fields: colour"),
])
def test_crafted_metadata_is_refused_quickly(tmp_path, good_model, field, value, words):
    bad = _rewrite_meta(good_model, tmp_path / "bad.safetensors", lambda m: m["config"].update({field: value}))
    with pytest.raises(ModelFileError, match=words or "bad model config|do not match"):
        load_model(bad)


def test_broken_model_files_are_refused(tmp_path, good_model):
    data = good_model.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.safetensors"):
        load_model(tmp_path / "cut.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelFileError, match="not a safetensors model file"):
        load_model(tmp_path / "empty.safetensors")
    listed = tmp_path / "list.safetensors"
    save_file(load_file(str(good_model)), str(listed), metadata={"ms2l": "[1, 2]"})
    with pytest.raises(ModelFileError, match="metadata is not a JSON object"):
        load_model(listed)
    with pytest.raises(ModelFileError, match="bad model config"):
        load_model(_rewrite_meta(good_model, tmp_path / "s.safetensors", lambda m: m.update(config="x")))
    nan = tmp_path / "nan.safetensors"
    state = load_file(str(good_model))
    key = next(k for k in state if k.startswith("classifier.fc.weight"))
    state[key][0, 0] = float("nan")
    save_file(state, str(nan), metadata={"ms2l": json.dumps(read_metadata(good_model))})
    with pytest.raises(ModelFileError, match=r"NaN or infinite values \(classifier.fc.weight"):
        load_model(nan)


def test_in_memory_model_with_wrong_output_count_or_nan_is_refused():
    net = MS2L(ModelConfig(hidden=8, layers=1, labels=("a", "b", "c")), with_ssl_heads=False).eval()
    net.classifier.fc = torch.nn.Linear(16, 5)  # five outputs, three labels
    with pytest.raises(ModelFileError, match="gives 5 outputs but names 3 labels"):
        Recognizer(net, device="cpu", backend="torch")
    net = MS2L(ModelConfig(hidden=8, layers=1, labels=("a", "b")), with_ssl_heads=False).eval()
    with torch.no_grad():
        net.classifier.fc.bias[0] = float("nan")
    with pytest.raises(ModelFileError, match="NaN or infinite outputs"):
        Recognizer(net, device="cpu", backend="torch")


# ---------------------------------------------------------------- library paths (the library's own API)

def test_library_import_refuses_a_symlink_out_of_the_folder(tmp_path):
    from app.clips import Library, LibraryError

    lib = Library(tmp_path / "a")
    lib.add(np.stack([body(i / 30) for i in range(12)]), label="wave")
    ds = tmp_path / "ds"
    lib.export(ds)
    secret = tmp_path / "secret.npz"
    secret.write_bytes((ds / "clips" / "clip_000001.npz").read_bytes())
    (ds / "clips" / "clip_000001.npz").unlink()
    (ds / "clips" / "clip_000001.npz").symlink_to(secret)  # looks inside, leads outside
    b = Library(tmp_path / "b")
    with pytest.raises(LibraryError, match="leads outside"):
        b.import_folder(ds)
    # The clip is back in place, but its preview path climbs out of the folder.
    (ds / "clips" / "clip_000001.npz").unlink()
    (ds / "clips" / "clip_000001.npz").write_bytes(secret.read_bytes())
    rows = (ds / "index.csv").read_text().splitlines()
    assert rows[1].endswith(",")  # no preview
    (ds / "index.csv").write_text("\n".join([rows[0], rows[1] + "../secret.jpg"]) + "\n")
    with pytest.raises(LibraryError, match="leads outside"):
        b.import_folder(ds)
    assert len(b) == 0 and b.check() == []
